/**
 * One browser test's world: the real server (in-process, free port) and headless Chromium whose
 * fake microphone speaks a WAV; both closed in t.after. Plus small polling helpers, so tests wait
 * for conditions instead of sleeping.
 */
import type { TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchConsole, type ConsoleWatch } from '../../support/browser.ts';
import { startWebServer, type WebServer, type WebServerOptions } from './web-server.ts';

export interface ClientWorld {
  server: WebServer;
  browser: Browser;
  /** Opens the page (in its own browser context, like a separate visitor) and waits for the language list. */
  openPage(path?: string): Promise<{ page: Page; console: ConsoleWatch }>;
}

export async function startClientWorld(t: TestContext, options: WebServerOptions & { fakeAudioFile?: string } = {}): Promise<ClientWorld> {
  const server = await startWebServer(options);
  t.after(() => server.close());
  const browser = await launchChromium(options.fakeAudioFile ? { fakeAudioFile: options.fakeAudioFile } : {});
  t.after(() => browser.close());
  return {
    server,
    browser,
    async openPage(path = '/') {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      const console = watchConsole(page);
      await page.goto(`${server.origin}${path}`);
      if (path === '/' || path.startsWith('/?')) {
        await page.waitForFunction(() => document.querySelectorAll('#language option').length === 4);
      }
      return { page, console };
    },
  };
}

/** Polls `condition` every 50 ms until it is true; throws with `what` after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function translationText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const blocks = Array.from(document.querySelectorAll('#translation .block'));
    return blocks.map((block) => block.textContent ?? '').join('\n');
  });
}

export function statusText(page: Page): Promise<string> {
  return page.evaluate(() => document.querySelector('#status')?.textContent ?? '');
}

/** Waits until the status line contains `fragment`. */
export async function waitForStatus(page: Page, fragment: string): Promise<void> {
  await page.waitForFunction((text) => (document.querySelector('#status')?.textContent ?? '').includes(text), fragment);
}

/** Waits until the translation panel holds more than `length` characters. */
export async function waitForTextLongerThan(page: Page, length: number): Promise<string> {
  await page.waitForFunction((min) => {
    const text = Array.from(document.querySelectorAll('#translation .block')).map((block) => block.textContent ?? '').join('\n');
    return text.trim().length > min;
  }, length);
  return translationText(page);
}

/** Records the sizes of binary frames and the texts the page sends over its WebSockets. */
export function recordSentFrames(page: Page): { binarySizes: number[]; texts: string[]; sockets: number } {
  const record = { binarySizes: [] as number[], texts: [] as string[], sockets: 0 };
  page.on('websocket', (socket) => {
    record.sockets++;
    socket.on('framesent', (frame) => {
      if (typeof frame.payload === 'string') record.texts.push(frame.payload);
      else record.binarySizes.push(frame.payload.length);
    });
  });
  return record;
}

/** Starts a session for `languagePair` with the Start button and waits until it is active. */
export async function startSession(page: Page, languagePair = 'English -> Italian'): Promise<void> {
  await page.selectOption('#language', languagePair);
  await page.click('#start');
  await page.waitForSelector('body[data-session="active"]');
}

/** Picks an audio source tab (the radio inputs are visually hidden behind their labels). */
export async function chooseSource(page: Page, label: 'Microphone' | 'Local file' | 'YouTube'): Promise<void> {
  await page.locator('#source-choice label', { hasText: label }).click();
}
