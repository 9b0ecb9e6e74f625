import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addedText, buildCues, formatSrt, formatVtt, minCueMs, timestamp } from '../../src/media/subtitles.ts';

test('each cue is one frame\'s addition, from its arrival to the next one', () => {
  const cues = buildCues([
    { atMs: 1920, text: 'Hallo' },
    { atMs: 3840, text: '' },
    { atMs: 5760, text: 'Welt.' },
    { atMs: 7680, text: 'Wie geht es?' },
  ], 9000);
  assert.deepEqual(cues, [
    { startMs: 1920, endMs: 5760, text: 'Hallo' },
    { startMs: 5760, endMs: 7680, text: 'Welt.' },
    { startMs: 7680, endMs: 9000, text: 'Wie geht es?' },
  ]);
});

test('keeps cues ordered and visible when frames arrive out of order or after the audio ended', () => {
  const cues = buildCues([{ atMs: 3000, text: 'a' }, { atMs: 2500, text: 'b' }, { atMs: 9500, text: 'c' }], 9000);
  assert.deepEqual(cues.map((cue) => cue.startMs), [3000, 3000, 9500]);
  assert.equal(cues[2]?.endMs, 9500 + minCueMs);
  for (const cue of cues) assert.ok(cue.endMs - cue.startMs >= minCueMs);
});

test('computes the added text of cumulative frames', () => {
  assert.equal(addedText('', 'Hallo'), 'Hallo');
  assert.equal(addedText('Hallo', 'Hallo Welt'), 'Welt');
  assert.equal(addedText('你好', '你好世界'), '世界');
  assert.equal(addedText('Hallo', 'Hallo'), '');
  assert.equal(addedText('Hallo Welt', 'Neu'), 'Neu', 'after a reset the whole text is new');
});

test('formats SRT and WebVTT', () => {
  const cues = [
    { startMs: 0, endMs: 1920, text: 'Hallo' },
    { startMs: 3_723_456, endMs: 3_725_000, text: 'a < b --> c\n\n& d' },
  ];
  assert.equal(formatSrt(cues), '1\n00:00:00,000 --> 00:00:01,920\nHallo\n\n2\n01:02:03,456 --> 01:02:05,000\na < b --> c\n& d\n');
  assert.equal(formatVtt(cues), 'WEBVTT\n\n00:00:00.000 --> 00:00:01.920\nHallo\n\n01:02:03.456 --> 01:02:05.000\na &lt; b --&gt; c\n&amp; d\n');
  assert.equal(formatVtt([]), 'WEBVTT\n');
  assert.equal(timestamp(-5, ','), '00:00:00,000');
});
