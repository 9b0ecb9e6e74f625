/**
 * Capacity 1: a second visitor is queued with its position and starts by itself when the first
 * one stops; closing a page deletes its session (sendBeacon), which frees the slot again. The
 * operator dashboard shows the sessions and their states meanwhile.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromiumPath, hasChromium, saveScreenshot } from '../support/browser.ts';
import { startClientWorld, until, waitForStatus } from './helpers/client-fixture.ts';
import { skipWithout } from '../support/required-tool.ts';

const skip = skipWithout('chromium', !hasChromium() && `${chromiumPath} not found (apt-get install chromium, or set CHROMIUM_PATH)`);

test('with one slot, later visitors queue with their position and start when the slot frees', { skip }, async (t) => {
  const world = await startClientWorld(t, { maxActiveSessions: 1 });
  const first = await world.openPage();
  const second = await world.openPage();
  const third = await world.openPage();

  await first.page.click('#start');
  await first.page.waitForSelector('body[data-session="active"]');
  await second.page.click('#start');
  await second.page.waitForSelector('body[data-session="queued"]');
  await waitForStatus(second.page, 'number 1 in line');
  await third.page.click('#start');
  await waitForStatus(third.page, 'number 2 in line');
  assert.equal(await second.page.isDisabled('#mic-toggle'), true, 'no audio source while queued');

  // The operator sees one active and two queued sessions.
  const dashboard = await world.openPage('/static/dashboard.html');
  await dashboard.page.waitForFunction(() => document.querySelectorAll('#sessions-body tr').length === 3);
  const states = await dashboard.page.$$eval('#sessions-body tr td:nth-child(2)', (cells) => cells.map((cell) => cell.textContent));
  assert.deepEqual(states, ['active', 'queued', 'queued']);
  assert.equal(await dashboard.page.textContent('#tile-queued'), '2');
  await saveScreenshot(dashboard.page, 'dashboard');
  assert.deepEqual(dashboard.console.errors, []);

  // The first visitor stops: the second starts by itself, the third moves up.
  await first.page.click('#stop');
  await second.page.waitForSelector('body[data-session="active"]');
  await waitForStatus(second.page, 'Ready');
  await waitForStatus(third.page, 'number 1 in line');

  // Closing the second page deletes its session: the third one starts.
  await second.page.close({ runBeforeUnload: true });
  await third.page.waitForSelector('body[data-session="active"]');
  await until(() => world.server.app.sessions.counts().total === 1, 'only the third session to remain');

  for (const visitor of [first, second, third]) assert.deepEqual(visitor.console.errors, []);
});
