import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { isAppError } from '../../src/errors.ts';
import { listAudioFiles, readReferences } from '../../src/evaluation/eval-inputs.ts';
import { decodeWav, encodeWavPcm16 } from '../../src/evaluation/wav.ts';

test('16-bit PCM round-trips through encode and decode', () => {
  const samples = Float32Array.from([0, 0.5, -0.5, 1, -1, 0.25]);
  const audio = decodeWav(encodeWavPcm16(samples, 16000));
  assert.equal(audio.sampleRateHz, 16000);
  assert.equal(audio.channels, 1);
  assert.equal(audio.samples.length, 6);
  samples.forEach((value, i) => assert.ok(Math.abs((audio.samples[i] ?? 0) - value) < 1e-4));
  assert.equal(audio.durationMs, 6 / 16);
});

test('float32 stereo is mixed down to mono', () => {
  const bytes = new Uint8Array(44 + 16);
  const view = new DataView(bytes.buffer);
  const text = (offset: number, value: string) => [...value].forEach((c, i) => (bytes[offset + i] = c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + 16, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 3, true);
  view.setUint16(22, 2, true);
  view.setUint32(24, 16000, true);
  view.setUint16(34, 32, true);
  text(36, 'data');
  view.setUint32(40, 16, true);
  [0.5, 0.25, -1, 1].forEach((v, i) => view.setFloat32(44 + i * 4, v, true));
  assert.deepEqual(Array.from(decodeWav(bytes).samples), [0.375, 0]);
});

test('non-WAV input is refused with badRequest', () => {
  assert.throws(() => decodeWav(new TextEncoder().encode('not a wav file at all')), (e: unknown) => isAppError(e) && e.code === 'badRequest');
});

test('the bundled sample set is 16 kHz mono speech with one reference line per file', async () => {
  const files = await listAudioFiles('samples/eval/wav');
  assert.ok(files.length >= 3 && files.length <= 5);
  for (const file of files) {
    const audio = decodeWav(await readFile(file));
    assert.equal(audio.sampleRateHz, 16000);
    assert.equal(audio.channels, 1);
    assert.ok(audio.durationMs > 1000 && audio.durationMs < 8000, `${file}: ${audio.durationMs} ms`);
    assert.ok(audio.samples.some((s) => Math.abs(s) > 0.1), `${file} is silent`);
  }
  for (const language of ['de', 'zh', 'it', 'es']) {
    const refs = await readReferences(`samples/eval/refs.${language}.txt`, files.length);
    assert.ok(refs.every((line) => line.trim().length > 0));
  }
});
