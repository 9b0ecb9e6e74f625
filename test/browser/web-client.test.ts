/**
 * The web client in real headless Chromium against the real server (tiny models): the page loads
 * cleanly and is keyboard-usable, the microphone (fed a spoken WAV) is translated with a growing
 * text, latency change and reset work, and the original page's asset paths still work.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { chromiumPath, hasChromium, saveScreenshot } from '../support/browser.ts';
import { makeSpeechWav } from '../support/speech.ts';
import {
  recordSentFrames,
  startClientWorld,
  startSession,
  statusText,
  translationText,
  until,
  waitForStatus,
  waitForTextLongerThan,
} from './helpers/client-fixture.ts';
import { skipWithout } from '../support/required-tool.ts';

const skip = skipWithout('chromium', !hasChromium() && `${chromiumPath} not found (apt-get install chromium, or set CHROMIUM_PATH)`);

const frameBytes = (multiplier: number): number => 15360 * multiplier * 4;

test('the page loads without console errors, shows which pairs have a model and is usable by keyboard', { skip }, async (t) => {
  const world = await startClientWorld(t, { models: ['tiny-en-zh', 'tiny-en-it'] });
  const { page, console } = await world.openPage();

  const options = await page.$$eval('#language option', (items) => items.map((item) => ({
    value: (item as HTMLOptionElement).value,
    label: item.textContent,
    disabled: (item as HTMLOptionElement).disabled,
  })));
  assert.deepEqual(options, [
    { value: 'English -> Chinese', label: 'English → Chinese', disabled: false },
    { value: 'English -> Italian', label: 'English → Italian', disabled: false },
    { value: 'English -> German', label: 'English → German (no model loaded)', disabled: true },
    { value: 'English -> Spanish', label: 'English → Spanish (no model loaded)', disabled: true },
  ]);
  assert.equal(await page.textContent('#language-hint'), 'Models loaded: English → Chinese, English → Italian.');
  assert.match(await statusText(page), /press Start/);
  // The embedded models are random-weight demos: the page says so before anyone reads their output.
  await page.waitForSelector('#demo-banner:not([hidden])');
  assert.match(await page.textContent('#demo-banner') ?? '', /random-weight test models.*not a translation/);

  // Keyboard only: language → latency → Start (Enter), then the source choice with arrow keys.
  await page.focus('#language');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'start');
  await page.keyboard.press('Enter');
  await page.waitForSelector('body[data-session="active"]');
  assert.equal(world.server.app.sessions.list()[0]?.languagePair, 'English -> Italian');
  await page.focus('#source-choice input[value="mic"]');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.isVisible('#file-input'), true, 'arrow keys switch to the local-file panel');
  assert.equal(await page.isVisible('#mic-toggle'), false);

  assert.deepEqual(console.errors, []);
});

test('the microphone is translated: the text appears and grows, latency changes live, reset clears, stop ends the session', { skip }, async (t) => {
  const speech = await makeSpeechWav();
  const world = await startClientWorld(t, { fakeAudioFile: speech });
  const { page, console } = await world.openPage();
  const sent = recordSentFrames(page);

  await startSession(page, 'English -> Italian');
  await page.click('#mic-toggle');
  await page.waitForSelector('body[data-capture="mic"]');
  await waitForStatus(page, 'Listening and translating');
  const first = await waitForTextLongerThan(page, 0);
  const grown = await waitForTextLongerThan(page, first.length);
  assert.ok(grown.startsWith(first.trim()), 'the text grows: each update replaces the display with the longer full text');
  assert.equal(sent.binarySizes[0], frameBytes(2), 'frames of 15 360 × 2 float32 samples');
  assert.ok(sent.binarySizes.every((size) => size === frameBytes(2)));
  await saveScreenshot(page, 'web-client-translating');
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling at phone width');
  await saveScreenshot(page, 'web-client-phone');
  await page.setViewportSize({ width: 1280, height: 800 });

  // Latency 1×: the server is told, and the page's frames shrink from the next one on.
  await page.selectOption('#latency', '1');
  await waitForStatus(page, 'Latency set to 1×');
  const session = world.server.app.sessions.list()[0];
  assert.equal(session?.latencyMultiplier, 1);
  const framesBefore = sent.binarySizes.length;
  await until(() => sent.binarySizes.slice(framesBefore).includes(frameBytes(1)), 'a 1× frame after the latency change');

  // Reset: the server's text and the page's text restart from empty; translation continues.
  const beforeReset = await waitForTextLongerThan(page, grown.length);
  await page.click('#reset');
  await waitForStatus(page, 'Translation cleared');
  const afterReset = await translationText(page);
  assert.ok(!afterReset.includes(beforeReset), 'the old text is gone from the panel');
  assert.ok((session?.fullText.length ?? 0) < beforeReset.length, 'the server text restarted');
  await waitForTextLongerThan(page, 0);

  // Downloads carry the panel's text; subtitles are well-formed.
  const [textDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-download="txt"]')]);
  const downloaded = await readFile(await textDownload.path(), 'utf8');
  assert.ok(downloaded.trim().length > 0);
  const [srtDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-download="srt"]')]);
  assert.match(await readFile(await srtDownload.path(), 'utf8'), /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n/);

  // Stop: the tail frame and EOF are sent, the session is deleted, the text stays.
  await page.click('#stop');
  await page.waitForSelector('body[data-session="idle"]');
  assert.ok(sent.texts.includes('EOF'));
  assert.equal(world.server.app.sessions.counts().total, 0);
  assert.ok((await translationText(page)).length > 0, 'the translation stays on the page after stopping');
  await waitForStatus(page, 'Session ended');
  assert.deepEqual(console.errors, []);
});

test('the original page can still load its assets: pcm-processor worklet and ElectronAudioProcessor', { skip }, async (t) => {
  const speech = await makeSpeechWav();
  const world = await startClientWorld(t, { fakeAudioFile: speech });
  const { page, console } = await world.openPage();
  await page.click('#start'); // a user gesture, so audio may start
  await page.waitForSelector('body[data-session="active"]');
  await page.addScriptTag({ url: '/static/electron-audio-fix.js' });
  const sent = recordSentFrames(page);

  const result = await page.evaluate(async () => {
    const type = (await fetch('/static/audio-processor.js')).headers.get('content-type');
    // pcm-processor posts each 128-sample render quantum of channel 0.
    const context = new AudioContext();
    await context.audioWorklet.addModule('/static/audio-processor.js');
    const node = new AudioWorkletNode(context, 'pcm-processor');
    const quantum = new Promise<number>((resolve) => { node.port.onmessage = (event) => resolve((event.data as Float32Array).length); });
    const oscillator = new OscillatorNode(context);
    oscillator.connect(node);
    node.connect(context.destination);
    oscillator.start();
    await context.resume();
    const quantumLength = await quantum;
    await context.close();

    // The original page's Electron path: microphone → ElectronAudioProcessor → /wss frames.
    const init = await (await fetch('/init?agent_type=InfiniSST&language_pair=English+-%3E+German', { method: 'POST' })).json() as { session_id: string };
    const socket = new WebSocket(`ws://${location.host}/wss/${encodeURIComponent(init.session_id)}`);
    await new Promise((resolve) => { socket.onopen = resolve; });
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const Processor = (window as unknown as { ElectronAudioProcessor: new () => { initializeAudio(s: MediaStream, w: WebSocket, k: string): Promise<boolean>; stop(): void; chunksSentCount: number } }).ElectronAudioProcessor;
    const processor = new Processor();
    await processor.initializeAudio(stream, socket, 'microphone');
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => { if (processor.chunksSentCount >= 1) { clearInterval(timer); resolve(); } }, 50);
    });
    processor.stop();
    socket.close();
    for (const track of stream.getTracks()) track.stop();
    return { type, quantumLength, sessionId: init.session_id };
  });
  assert.match(result.type ?? '', /javascript/);
  assert.equal(result.quantumLength, 128);
  assert.equal(sent.binarySizes[0], frameBytes(2), 'the Electron path frames 15 360 × 2 samples (window.currentLatencyMultiplier unset)');
  assert.deepEqual(console.errors, []);
  assert.ok(world.server.app.sessions.get(result.sessionId), 'the Electron path used a real session');
});
