import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { GreedyStream } from './greedy-stream.ts';
import { loadPackage, noise, paddedTwinsDir, releasePackage, TINY_PACKAGE_NAMES } from './tiny-model-harness.ts';

const SAMPLES_PER_SEGMENT = 15360;
// Greedy decoding of random weights is chaotic (one token changes the rest of the stream), so the
// rate is only stable over many chunks.
const STREAMS = 16;
const CHUNKS_PER_STREAM = 6;

/** Streams alternate between plain noise of several loudnesses and tones under hiss; some chunks are silent. */
function testAudio(stream: number, chunk: number, multiplier: number): Float32Array {
  const length = SAMPLES_PER_SEGMENT * multiplier;
  if ((stream + chunk) % 7 === 6) return new Float32Array(length);
  if (stream % 2 === 0) return noise(length, 7919 * stream + chunk + 911, [0.03, 0.1, 0.3, 0.6][(stream / 2) % 4] ?? 0.1);
  const hiss = noise(length, 104729 * stream + 13 * chunk + 5, 0.02 + 0.1 * (chunk % 3));
  const frequencyHz = 120 + 90 * ((stream * 5 + chunk) % 11);
  return hiss.map((value, i) => value + 0.2 * Math.sin((2 * Math.PI * frequencyHz * i) / 16000));
}

for (const name of TINY_PACKAGE_NAMES) {
  test(`${name}: greedy decoding ends a fair share of chunks with the end-of-chunk token`, async (t) => {
    const pkg = await loadPackage(join(await paddedTwinsDir(), name));
    t.after(() => releasePackage(pkg));
    const pair = Object.keys(pkg.manifest.languagePairs)[0] ?? '';
    let ended = 0;
    let chunks = 0;
    const texts: string[] = [];
    for (let stream = 0; stream < STREAMS; stream += 1) {
      const session = new GreedyStream(pkg, pair);
      for (let chunk = 0; chunk < CHUNKS_PER_STREAM; chunk += 1) {
        const multiplier = 1 + ((stream + chunk) % 2);
        const outcome = await session.chunk(testAudio(stream, chunk, multiplier), multiplier);
        const limit = pkg.manifest.generation.maxNewTokensPerMultiplier * multiplier;
        assert.ok(outcome.tokens.length >= 1 && outcome.tokens.length <= limit);
        if (outcome.endedByEndOfChunk) ended += 1;
        chunks += 1;
        texts.push(outcome.tokens.map((id) => pkg.tokens[id] ?? '?').join(''));
      }
    }
    const rate = ended / chunks;
    t.diagnostic(`end-of-chunk rate ${rate.toFixed(2)} over ${chunks} chunks; e.g. ${texts.slice(0, 3).join(' | ')}`);
    assert.ok(rate >= 0.2 && rate <= 0.6, `end-of-chunk rate ${rate} is outside [0.2, 0.6]`);
    assert.ok(new Set(texts).size >= chunks / 3, 'chunks of different audio should mostly decode differently');
  });
}
