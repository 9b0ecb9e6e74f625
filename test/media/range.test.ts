import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentRange, parseRange, unsatisfiedRange } from '../../src/media/range.ts';

test('parses single byte ranges, open-ended ranges and suffix ranges', () => {
  assert.deepEqual(parseRange('bytes=0-99', 1000), { kind: 'partial', range: { start: 0, end: 99 } });
  assert.deepEqual(parseRange('bytes=500-', 1000), { kind: 'partial', range: { start: 500, end: 999 } });
  assert.deepEqual(parseRange('bytes=-100', 1000), { kind: 'partial', range: { start: 900, end: 999 } });
  assert.deepEqual(parseRange('bytes=-5000', 1000), { kind: 'partial', range: { start: 0, end: 999 } });
  assert.deepEqual(parseRange('bytes=900-5000', 1000), { kind: 'partial', range: { start: 900, end: 999 } });
  assert.deepEqual(parseRange('BYTES = 1 - 2', 1000), { kind: 'partial', range: { start: 1, end: 2 } });
});

test('answers unsatisfiable ranges with 416 and ignores malformed or multiple ranges', () => {
  assert.deepEqual(parseRange('bytes=1000-', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  for (const header of [undefined, '', 'bytes=', 'bytes=-', 'bytes=5-1', 'items=0-1', 'bytes=0-1,5-6', 'bytes=abc-', 'bytes=99999999999999999999-']) {
    assert.deepEqual(parseRange(header, 1000), { kind: 'full' }, String(header));
  }
});

test('formats Content-Range values', () => {
  assert.equal(contentRange({ start: 0, end: 99 }, 1000), 'bytes 0-99/1000');
  assert.equal(unsatisfiedRange(1000), 'bytes */1000');
});
