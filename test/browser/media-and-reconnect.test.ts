/**
 * The web client keeps translating through trouble and from other sources: a socket cut by the
 * network reconnects to the same session without losing text; a local video file is translated
 * as it plays; the `?test=true` mode plays /test_video/0000AAAA.mp4 (asking for a click when
 * the browser blocks autoplay).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { makeSpeechWav } from '../support/speech.ts';
import {
  chooseSource,
  recordSentFrames,
  startClientWorld,
  startSession,
  translationText,
  until,
  waitForStatus,
  waitForTextLongerThan,
} from './helpers/client-fixture.ts';
import { fakeYoutubeDownloader } from './helpers/fake-youtube.ts';
import { makeSpeechVideo } from './helpers/speech-media.ts';
import { cutWebSockets } from './helpers/web-server.ts';
import { skipWithout } from '../support/required-tool.ts';
import { chromiumPath, hasChromium } from '../support/browser.ts';

const skip = skipWithout('chromium', !hasChromium() && `${chromiumPath} not found (apt-get install chromium, or set CHROMIUM_PATH)`);

const shortSpeech = 'Welcome to the lecture. We will talk about machine translation of speech.';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infinisst-web-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a socket dropped by the network reconnects to the same session and the text continues', { skip }, async (t) => {
  const world = await startClientWorld(t, { fakeAudioFile: await makeSpeechWav() });
  const { page } = await world.openPage();
  const sent = recordSentFrames(page);
  await startSession(page, 'English -> German');
  const sessionId = world.server.app.sessions.list()[0]?.id;
  await page.click('#mic-toggle');
  const before = await waitForTextLongerThan(page, 0);

  assert.equal(cutWebSockets(world.server.app), 1);
  await until(() => sent.sockets >= 2, 'the page to open a new socket');
  await page.waitForSelector('body[data-socket="open"]');
  const afterReconnect = await translationText(page);
  assert.ok(afterReconnect.startsWith(before.trim()), 'no text was lost');

  const continued = await waitForTextLongerThan(page, afterReconnect.length);
  assert.ok(continued.startsWith(before.trim()), 'the same translation continues');
  assert.deepEqual(world.server.app.sessions.list().map((session) => session.id), [sessionId], 'still the one session');
  assert.match(await page.textContent('#status') ?? '', /Listening and translating/);
});

test('a local video file is translated as it plays, then the last words are finished', { skip }, async (t) => {
  const dir = await tempDir(t);
  const video = await makeSpeechVideo(await makeSpeechWav(shortSpeech), 'webm', join(dir, 'lecture.webm'));
  const world = await startClientWorld(t);
  const { page, console } = await world.openPage();
  const sent = recordSentFrames(page);
  await startSession(page, 'English -> Spanish');
  await chooseSource(page, 'Local file');
  await page.setInputFiles('#file-input', video);

  await page.waitForSelector('#player video');
  await page.waitForSelector('body[data-capture="media"]');
  await waitForStatus(page, 'Playing and translating');
  await waitForTextLongerThan(page, 0);
  await waitForStatus(page, 'Done: everything you sent has been translated');
  assert.ok(sent.texts.includes('EOF'), 'the end of the file is announced');
  assert.ok(sent.binarySizes.length >= 2 && sent.binarySizes.every((size) => size === 15360 * 2 * 4));
  assert.deepEqual(console.errors, []);
});

test('a YouTube link: a download failure is explained in words; a downloaded video plays and is translated', { skip }, async (t) => {
  const dir = await tempDir(t);
  const video = await makeSpeechVideo(await makeSpeechWav(shortSpeech), 'webm', join(dir, 'talk.webm'));
  const world = await startClientWorld(t, { youtubeDownloader: fakeYoutubeDownloader(video, 'video/webm') });
  const { page, console } = await world.openPage();
  await startSession(page, 'English -> Italian');
  await chooseSource(page, 'YouTube');

  await page.fill('#youtube-url', 'not a link');
  await page.click('#youtube-load');
  await waitForStatus(page, 'does not look like a YouTube link');

  await page.fill('#youtube-url', 'https://www.youtube.com/watch?v=unavailable1');
  await page.click('#youtube-load');
  await waitForStatus(page, 'could not be loaded');
  assert.match(await page.textContent('#status') ?? '', /The YouTube video could not be loaded: Video unavailable: this video is private/);
  assert.equal(await page.getAttribute('#status', 'data-tone'), 'error');

  await page.fill('#youtube-url', 'https://youtu.be/dQw4w9WgXcQ');
  await page.click('#youtube-load');
  await page.waitForSelector('#player video');
  await page.waitForSelector('body[data-capture="media"]');
  await waitForStatus(page, 'Playing and translating');
  await waitForTextLongerThan(page, 0);
  assert.deepEqual(console.errors, []);
});

test('test mode (?test=true) starts a session and plays /test_video/0000AAAA.mp4 (asking for a click if autoplay is blocked)', { skip }, async (t) => {
  const dir = await tempDir(t);
  await makeSpeechVideo(await makeSpeechWav(shortSpeech), 'mp4', join(dir, '0000AAAA.mp4'));
  const world = await startClientWorld(t, { testVideoDir: dir });
  const { page, console } = await world.openPage('/?test=true');
  await page.waitForSelector('body[data-session="active"]');
  await page.waitForSelector('#player video');
  // Where the browser blocks autoplay without a user gesture, the page asks for one click.
  await page.waitForSelector('body[data-capture="media"], #autoplay-overlay:not([hidden])');
  if (await page.isVisible('#autoplay-start')) await page.click('#autoplay-start');
  await waitForTextLongerThan(page, 0);
  assert.equal(world.server.app.sessions.counts().active, 1);
  assert.deepEqual(console.errors, []);
});
