import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamClock } from '../../src/evaluation/stream-clock.ts';

test('the stream starts when the first frame began, and reset forgets the origin', () => {
  let now = 10_000;
  const clock = new StreamClock(() => now);
  assert.equal(clock.elapsedMs(), 0);
  assert.equal(clock.hasStarted, false);
  clock.markAudio(1920);
  // The first frame arrived at 10 000 ms carrying 1920 ms of audio: the stream began at 8080 ms.
  assert.equal(clock.elapsedMs(), 1920);
  now = 12_000;
  clock.markAudio(1920);
  assert.equal(clock.elapsedMs(), 3920);
  clock.reset();
  assert.equal(clock.elapsedMs(), 0);
  clock.markAudio(960);
  assert.equal(clock.elapsedMs(), 960);
});
