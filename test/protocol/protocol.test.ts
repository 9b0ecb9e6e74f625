import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAppError } from '../../src/errors.ts';
import { decodeAudioFrame, encodeAudioFrame } from '../../src/protocol/audio-frame.ts';
import { bodyKindOf, mergeParams } from '../../src/protocol/merge-params.ts';
import { parseMultipartFields } from '../../src/protocol/multipart.ts';
import { parseQueryString } from '../../src/protocol/query-string.ts';
import { looksLikeStatus, parseClientText, serverFrames } from '../../src/protocol/ws-frames.ts';

test('query strings decode "+" as a space and percent escapes, as URLSearchParams encodes them', () => {
  const query = parseQueryString('session_id=client_x_English+-%3E+Chinese_1&a=1&a=2&empty=');
  assert.equal(query.session_id, 'client_x_English -> Chinese_1');
  assert.equal(query.a, '2', 'last repeated key wins');
  assert.equal(query.empty, '');
  assert.equal(Object.getPrototypeOf(query), null);
});

test('mergeParams: query first, then body fields of the accepted kinds; nulls count as absent', () => {
  assert.deepEqual({ ...mergeParams({ a: 'q' }, { a: 'b', b: 2, c: null }, 'json', ['json']) }, { a: 'q', b: 2 });
  assert.deepEqual({ ...mergeParams({}, { session_id: 'x' }, 'form', ['json']) }, {}, 'form bodies only where allowed');
  assert.deepEqual({ ...mergeParams({}, { session_id: 'x' }, 'form', ['json', 'form']) }, { session_id: 'x' });
  assert.deepEqual({ ...mergeParams({}, ['x'], 'json', ['json']) }, {}, 'non-object bodies are ignored');
  assert.equal(bodyKindOf('application/json; charset=utf-8', true), 'json');
  assert.equal(bodyKindOf('multipart/form-data; boundary=x', true), 'form');
  assert.equal(bodyKindOf('text/plain', true), 'other');
  assert.equal(bodyKindOf(undefined, false), 'none');
});

test('multipart text fields are read; file parts are skipped', () => {
  const body = Buffer.from(
    '--b\r\nContent-Disposition: form-data; name="session_id"\r\n\r\nid with spaces -> ü\r\n' +
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\nxxx\r\n--b--\r\n',
  );
  assert.deepEqual({ ...parseMultipartFields(body, 'multipart/form-data; boundary=b') }, { session_id: 'id with spaces -> ü' });
  assert.throws(() => parseMultipartFields(body, 'multipart/form-data'), /boundary/);
});

test('audio frames: float32 little-endian decode, NaN/Inf zeroed and out-of-range clamped', () => {
  const samples = new Float32Array([0.5, -0.25, Number.NaN, Number.POSITIVE_INFINITY, 3, -7]);
  const decoded = decodeAudioFrame(encodeAudioFrame(samples), 100);
  assert.deepEqual([...decoded.samples], [0.5, -0.25, 0, 0, 1, -1]);
  assert.equal(decoded.sanitizedCount, 4);
  // A view into a larger buffer at an odd offset decodes too (socket buffers are pooled).
  const pooled = new Uint8Array(13);
  pooled.set(encodeAudioFrame(new Float32Array([0.125, 0.75])), 5);
  assert.deepEqual([...decodeAudioFrame(pooled.subarray(5, 13), 100).samples], [0.125, 0.75]);
});

test('audio frames: misaligned and oversized frames are AppErrors with clear messages', () => {
  assert.throws(() => decodeAudioFrame(new Uint8Array(6), 100), (error) => isAppError(error) && error.code === 'badAudioFrame' && /multiple of 4/.test(error.message));
  assert.throws(() => decodeAudioFrame(new Uint8Array(404), 100), (error) => isAppError(error) && error.code === 'frameTooLarge');
  assert.equal(decodeAudioFrame(new Uint8Array(0), 100).samples.length, 0);
});

test('client text frames: EOF, LATENCY:<n>, bad latency, everything else ignored', () => {
  assert.deepEqual(parseClientText('EOF'), { kind: 'eof' });
  assert.deepEqual(parseClientText(' EOF\n'), { kind: 'eof' });
  assert.deepEqual(parseClientText('LATENCY:3'), { kind: 'latency', multiplier: 3 });
  assert.deepEqual(parseClientText('LATENCY:x'), { kind: 'badLatency' });
  assert.deepEqual(parseClientText('END'), { kind: 'ignored' });
  assert.ok(looksLikeStatus(serverFrames.ready));
  assert.ok(looksLikeStatus(serverFrames.processingComplete));
  assert.ok(!looksLikeStatus('你好'));
});
