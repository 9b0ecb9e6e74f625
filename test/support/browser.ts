/**
 * Headless Chromium for page tests: Debian's /usr/bin/chromium driven by playwright-core (never a
 * downloaded browser), with fake media devices (optionally fed from a WAV file), no network
 * side-traffic and a fresh profile per launch. Also collects a page's console errors.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where tests leave screenshots (git-ignored). */
export const artifactsDir = resolve('test-artifacts');

export interface LaunchOptions {
  /** WAV file the fake microphone plays in a loop. */
  fakeAudioFile?: string;
}

/** True if the system Chromium exists (tests skip with a clear reason otherwise). */
export function hasChromium(): boolean {
  return existsSync(chromiumPath);
}

/**
 * Launches headless Chromium. Playwright gives every launch a fresh temporary --user-data-dir.
 * Throws if the browser cannot start.
 */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
  ];
  if (options.fakeAudioFile) args.push(`--use-file-for-fake-audio-capture=${options.fakeAudioFile}`);
  return chromium.launch({ executablePath: chromiumPath, headless: true, args, timeout: 60_000 });
}

export interface ConsoleWatch {
  /** console.error messages and uncaught page errors, in order. */
  errors: string[];
}

/** Records console errors and uncaught exceptions of `page`. */
export function watchConsole(page: Page): ConsoleWatch {
  const watch: ConsoleWatch = { errors: [] };
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') watch.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => watch.errors.push(`pageerror: ${error.message}`));
  return watch;
}

/** Saves a screenshot under test-artifacts/ and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  const path = join(artifactsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
