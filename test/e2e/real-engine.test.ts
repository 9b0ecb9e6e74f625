/**
 * End to end through the real engine and the default models (models/tiny-en-*): a speech WAV
 * (espeak-ng + sox, or a synthesized signal where they are missing) streamed over a real socket
 * in the browser's framing must come back as translation frames, then PROCESSING_COMPLETE.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { decodeWav } from '../../src/evaluation/wav.ts';
import { createEngine } from '../../src/inference/engine/engine.ts';
import { toEngineOptions } from '../../src/config/engine-options.ts';
import { engineOptions, testAudio } from '../support/engine-fixtures.ts';
import { makeSpeechWav } from '../support/speech.ts';
import { createSession, FrameCollector, testConfig } from '../app/helpers.ts';

async function speechSamples(): Promise<Float32Array> {
  try {
    const wav = decodeWav(await readFile(await makeSpeechWav()));
    assert.equal(wav.sampleRateHz, 16_000);
    return wav.samples;
  } catch (error) {
    // Without espeak-ng/sox the pipeline is still exercised end to end, on pseudo-speech.
    process.emitWarning(`speech synthesis unavailable (${String(error)}); using a synthesized signal`);
    return testAudio(16_000 * 8, 7);
  }
}

test('a speech WAV streamed through the default models produces translation frames', async (t) => {
  const config = testConfig(t, { engine: { devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }] } });
  const engine = await createEngine({ ...toEngineOptions(config, process.cwd()), modelsDir: engineOptions().modelsDir });
  t.after(() => engine.close(1_000));
  const app = await buildApp(config, { engine, runTimers: false });
  t.after(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');

  for (const pair of ['English -> Chinese', 'English -> German']) {
    const id = await createSession(app, { language_pair: pair });
    const socket: WebSocket = new WebSocket(`ws://127.0.0.1:${address.port}/wss/${id}`);
    const frames: FrameCollector = new FrameCollector(socket);
    t.after(() => socket.terminate());
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const samples = await speechSamples();
    const frameSamples = 15_360 * 2;
    for (let offset = 0; offset < samples.length; offset += frameSamples) {
      const frame = new Float32Array(frameSamples);
      frame.set(samples.subarray(offset, offset + frameSamples));
      socket.send(frame);
    }
    socket.send('EOF');
    await frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
    const translations = frames.translations();
    assert.equal(frames.frames[0], 'READY: Scheduler system ready');
    assert.deepEqual(frames.frames.filter((frame) => frame.startsWith('ERROR')), [], pair);
    assert.ok(translations.length > 0, `${pair}: at least one translation frame`);
    // Every frame carries the full translation so far: each one extends the previous.
    for (let i = 1; i < translations.length; i++) {
      assert.ok(translations[i]?.startsWith(translations[i - 1] ?? ''), `${pair}: cumulative frames`);
    }
    socket.close();
  }
});
