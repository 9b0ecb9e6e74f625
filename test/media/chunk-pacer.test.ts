import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkPacer } from '../../src/media/chunk-pacer.ts';
import type { PacerClock } from '../../src/media/chunk-pacer.ts';

/** A manual clock: sleeps resolve when the test advances time past them, or on wake(). */
function manualClock(): PacerClock & { advance(ms: number): Promise<void>; sleeping(): number } {
  let now = 0;
  let sleepers: Array<{ until: number; resolve: () => void }> = [];
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 10; i += 1) await Promise.resolve();
  };
  return {
    now: () => now,
    sleep: (ms) => new Promise<void>((resolve) => sleepers.push({ until: now + ms, resolve })),
    wake: () => {
      const all = sleepers;
      sleepers = [];
      for (const sleeper of all) sleeper.resolve();
    },
    async advance(ms) {
      now += ms;
      const due = sleepers.filter((sleeper) => sleeper.until <= now);
      sleepers = sleepers.filter((sleeper) => sleeper.until > now);
      for (const sleeper of due) sleeper.resolve();
      await settle();
    },
    sleeping: () => sleepers.length,
  };
}

test('paced mode sends each chunk when its audio would have been played', async () => {
  const clock = manualClock();
  const pacer = new ChunkPacer({ kind: 'paced', speed: 2 }, clock);
  let sent = false;
  const waiting = pacer.beforeSend(1920).then(() => {
    sent = true;
  });
  await clock.advance(959);
  assert.equal(sent, false);
  await clock.advance(1);
  await waiting;
  assert.equal(sent, true);
  pacer.sent(1920);
  await clock.advance(300);
  assert.equal(pacer.onTranslation(), 1260 * 2, 'a frame is timed at the playback position');
});

test('fast mode keeps at most maxInFlight chunks unanswered; a translation answers the oldest', async () => {
  const clock = manualClock();
  const pacer = new ChunkPacer({ kind: 'fast', maxInFlight: 2, ackTimeoutMs: 1000 }, clock);
  await pacer.beforeSend(1920);
  pacer.sent(1920);
  await pacer.beforeSend(3840);
  pacer.sent(3840);
  let released = false;
  const third = pacer.beforeSend(5760).then(() => {
    released = true;
  });
  await clock.advance(10);
  assert.equal(released, false);
  assert.equal(pacer.onTranslation(), 1920, 'the frame answers the oldest chunk and is timed at its end');
  await third;
  assert.equal(released, true);
});

test('fast mode counts a chunk as answered after ackTimeoutMs of silence', async () => {
  const clock = manualClock();
  const pacer = new ChunkPacer({ kind: 'fast', maxInFlight: 1, ackTimeoutMs: 1000 }, clock);
  await pacer.beforeSend(1920);
  pacer.sent(1920);
  let released = false;
  const next = pacer.beforeSend(3840).then(() => {
    released = true;
  });
  await clock.advance(999);
  assert.equal(released, false);
  await clock.advance(1);
  await next;
  pacer.sent(3840);
  assert.equal(pacer.onTranslation(), 3840, 'the silent chunk was skipped; the frame answers the next');
});
