/**
 * A session id is a bearer credential. An anonymous client on loopback reads every GET route and
 * tries the `*_by_user` routes with the victim's client id (the chain that once handed out
 * other users' session ids): nothing it gets contains the victim's session id or client id, and
 * the masked id it may see opens nothing. The server's log, all of it, carries no full session id.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { capturingLogger, createSession, post, routesOf, speechSamples, startServer, StreamClient } from './support/ops-harness.ts';

const PAIR = 'English -> German';
const CLIENT_ID = 'victim_laptop_42';

/** Every GET route, parameters filled with `fill`, the static wildcard with index.html. */
function getRoutes(app: FastifyInstance, fill: string): string[] {
  return routesOf(app, 'GET').map((path) => path.replace(/\*$/, 'index.html').replace(/:[a-z_]+/g, encodeURIComponent(fill)));
}

test('an anonymous client cannot learn or use another user\'s session id, and logs carry none', async (t) => {
  const { logger, lines } = capturingLogger('debug');
  const server = await startServer(t, { logger });
  const { baseUrl, app } = server;

  // The victim: a page with a client id, streaming.
  const victimId = await createSession(baseUrl, { client_id: CLIENT_ID, evaluation_mode: 'true' });
  const victim = await StreamClient.open(t, baseUrl, victimId);
  victim.sendAudio((await speechSamples()).subarray(0, 16_000 * 4));
  await victim.finish();
  assert.ok(victim.translations().length > 0, 'precondition: the victim got text');

  // The attacker reads everything readable without a token...
  // What the listings show of the victim: no owner, no secret. The attacker tries it everywhere.
  const listed = `*_${PAIR}_${victimId.split('_').at(-2)}_************`;
  const routes = getRoutes(app, listed);
  assert.ok(routes.includes('/health') && routes.includes('/debug/session_stats') && routes.includes('/debug/session_history'), routes.join(', '));
  const leaks: string[] = [];
  let sawMasked = false;
  for (const route of routes) {
    const text = await (await fetch(`${baseUrl}${route}`)).text();
    if (text.includes(victimId)) leaks.push(`${route}: session id`);
    if (text.includes(CLIENT_ID)) leaks.push(`${route}: client id`);
    sawMasked ||= text.includes(listed);
  }
  // ...and asks the by-user routes with the victim's client id, as the original allowed.
  const byUser = { user_id: CLIENT_ID, language_pair: PAIR };
  const delays = await (await fetch(`${baseUrl}/session_delays_by_user?${new URLSearchParams(byUser)}`)).text();
  const exported = await post(baseUrl, '/export_session_delays_by_user', byUser);
  for (const [route, text] of [['/session_delays_by_user', delays], ['/export_session_delays_by_user', JSON.stringify(exported.json)]] as const) {
    if (text.includes(victimId)) leaks.push(`${route}: session id`);
    assert.match(text, /"success":false/, `${route} answers a client id alone with not found`);
  }
  assert.deepEqual(leaks, []);
  assert.ok(sawMasked, 'listings still show the session, masked');

  // The listed id opens nothing.
  for (const path of ['/reset_translation', '/delete_session', '/ping']) {
    assert.notEqual((await post(baseUrl, path, { session_id: listed })).json?.success, true, `${path} with the listed id`);
  }
  const hijack = await StreamClient.open(t, baseUrl, listed).catch(() => undefined);
  if (hijack) {
    await hijack.waitForClose();
    assert.notEqual(hijack.closeCode, 1000);
  }
  assert.equal((await post(baseUrl, '/ping', { session_id: victimId })).json?.success, true, 'the victim keeps its session');

  // The owner, who knows its id, still gets its own statistics by user.
  const own = await (await fetch(`${baseUrl}/session_delays_by_user?${new URLSearchParams({ ...byUser, session_id: victimId })}`)).json() as { success: boolean };
  assert.equal(own.success, true);

  const log = lines.join('');
  assert.ok(log.includes('/wss/') && log.includes(`${victimId.split('_').at(-2)}_************`), 'precondition: session lines and socket URLs were logged');
  assert.ok(!log.includes(victimId.slice(-12)), 'no log line carries the secret part of a session id');
});
