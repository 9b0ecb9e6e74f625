/**
 * The realtime edge's audio: strict base64, and 24 kHz PCM16 turned into the engine's 16 kHz
 * samples the same however the stream is cut into appends (odd bytes included), with the right
 * length, a tone kept and content above 8 kHz removed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBase64Strict, Pcm16RateConverter } from '../../src/protocol/pcm16-audio.ts';
import { concatAudio } from '../support/engine-fixtures.ts';

function tone(frequencyHz: number, rateHz: number, seconds: number, amplitude = 0.5): Buffer {
  const count = Math.round(rateHz * seconds);
  const pcm = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) pcm.writeInt16LE(Math.round(32767 * amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz)), i * 2);
  return pcm;
}

function convertAll(converter: Pcm16RateConverter, pieces: Buffer[]): Float32Array {
  return concatAudio(...pieces.map((piece) => converter.push(piece)), converter.finish());
}

test('24 kHz → 16 kHz: two thirds of the samples, the same whatever the appends, a 440 Hz tone kept and 10 kHz removed', () => {
  const pcm = tone(440, 24_000, 1);
  const whole = convertAll(new Pcm16RateConverter(24_000), [pcm]);
  assert.equal(whole.length, 16_000);
  const sizes = [1, 7, 333, 4801, 2, 9999];
  const pieces: Buffer[] = [];
  for (let offset = 0, k = 0; offset < pcm.length; k++) {
    const size = sizes[k % sizes.length] ?? 1;
    pieces.push(pcm.subarray(offset, offset + size));
    offset += size;
  }
  assert.deepEqual(convertAll(new Pcm16RateConverter(24_000), pieces), whole, 'odd and tiny appends change nothing');
  let error = 0;
  for (let i = 100; i < whole.length - 100; i++) error = Math.max(error, Math.abs((whole[i] ?? 0) - 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16_000)));
  assert.ok(error < 0.01, `a 440 Hz tone survives (max error ${error})`);
  const high = convertAll(new Pcm16RateConverter(24_000), [tone(10_000, 24_000, 0.5)]);
  assert.ok(Math.max(...high.slice(100, -100).map(Math.abs)) < 0.01, '10 kHz cannot be represented at 16 kHz and is filtered out, not folded back');
});

test('16 kHz input passes through; receivedMs counts input; a bad rate or bad base64 is refused with a reason', () => {
  const converter = new Pcm16RateConverter(16_000);
  const samples = convertAll(converter, [tone(300, 16_000, 0.25)]);
  assert.equal(samples.length, 4_000);
  assert.equal(converter.receivedMs, 250);
  assert.throws(() => new Pcm16RateConverter(1_000), /input sample rate must be an integer from 8000 to 192000 Hz, got 1000/);
  assert.deepEqual([...decodeBase64Strict('AAEC', 'audio')], [0, 1, 2]);
  for (const bad of ['A', 'AA AA', 'AA-_', '====', 'AAEC===']) assert.throws(() => decodeBase64Strict(bad, 'audio'), /audio is not valid base64/, bad);
});
