import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtoWriter } from '../../../scripts/models/protobuf-writer.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

test('varint fields use the protobuf encoding, including 64-bit two\'s complement for negatives', () => {
  assert.equal(hex(new ProtoWriter().varintField(1, 150).finish()), '089601');
  assert.equal(hex(new ProtoWriter().varintField(2, 0).finish()), '1000');
  assert.equal(hex(new ProtoWriter().varintField(1, -1).finish()), '08ffffffffffffffffff01');
  assert.equal(hex(new ProtoWriter().varintField(20, 7).finish()), 'a00107');
});

test('length-delimited fields carry their length; nested messages are embedded whole', () => {
  assert.equal(hex(new ProtoWriter().stringField(2, 'testing').finish()), '120774657374696e67');
  assert.equal(hex(new ProtoWriter().messageField(3, (w) => w.varintField(1, 150)).finish()), '1a03089601');
});

test('packed repeated scalars and floats are little-endian and grouped in one field', () => {
  assert.equal(hex(new ProtoWriter().packedVarintField(4, [3, 270, 86942]).finish()), '2206038e029ea705');
  assert.equal(hex(new ProtoWriter().floatField(2, 1).finish()), '150000803f');
  assert.equal(hex(new ProtoWriter().packedFloatField(7, [1, -2]).finish()), '3a080000803f000000c0');
});

test('the buffer grows past its initial capacity without losing bytes', () => {
  const payload = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
  const encoded = new ProtoWriter().bytesField(9, payload).finish();
  assert.equal(hex(encoded.subarray(0, 3)), '4a8827');
  assert.deepEqual(encoded.subarray(3), payload);
});

test('invalid field numbers and unsafe integers are rejected', () => {
  assert.throws(() => new ProtoWriter().varintField(0, 1), /field number/);
  assert.throws(() => new ProtoWriter().varintField(1, 2 ** 60), /safe integer/);
});
