/**
 * Scale-out: three instances on loopback behind a real nginx with the shipped configuration
 * (deploy/nginx/render-config.ts). Sessions created through nginx stream and translate through
 * nginx; every request naming a session (path, query string, JSON body) reaches its owner; and
 * stopping one instance affects only that instance's sessions. Skipped where nginx is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { renderNginxConfig } from '../../deploy/nginx/render-config.ts';
import { instanceTagOf } from '../../src/sessions/session-id.ts';
import { createSession, freePort, post, speechSamples, startServer, StreamClient, type RunningServer } from './support/ops-harness.ts';
import { skipWithout } from '../support/required-tool.ts';

const hasNginx = spawnSync('nginx', ['-v']).status === 0;

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const isOpen = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (isOpen) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function startNginx(t: TestContext, instances: { tag: string; port: number }[]): Promise<string> {
  const prefix = mkdtempSync(join(tmpdir(), 'infinisst-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  const port = await freePort();
  const configFile = join(prefix, 'nginx.conf');
  writeFileSync(configFile, renderNginxConfig({
    listen: `127.0.0.1:${port}`,
    instances: instances.map(({ tag, port: instancePort }) => ({ tag, address: `127.0.0.1:${instancePort}` })),
    standalonePrefix: prefix,
  }));
  const nginx = spawn('nginx', ['-p', prefix, '-c', configFile, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  nginx.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.after(async () => {
    if (nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    rmSync(prefix, { recursive: true, force: true });
  });
  try {
    await waitForPort(port);
  } catch (error) {
    throw new Error(`nginx did not start: ${stderr} ${readFileSync(join(prefix, 'error.log'), 'utf8')}`, { cause: error });
  }
  return `http://127.0.0.1:${port}`;
}

test('three instances behind nginx: sessions are routed to their owner, and stopping one affects only its sessions', { skip: skipWithout('nginx', !hasNginx && 'not installed (apt-get install nginx)') }, async (t) => {
  const tags = ['n0', 'n1', 'n2'];
  const servers = new Map<string, RunningServer>();
  for (const tag of tags) {
    servers.set(tag, await startServer(t, { config: { cluster: { instanceTag: tag }, server: { trustProxy: true } } }));
  }
  const proxy = await startNginx(t, tags.map((tag) => ({ tag, port: servers.get(tag)?.port ?? 0 })));

  // /init through nginx spreads sessions; create until every instance owns one.
  const owned = new Map<string, string>();
  for (let attempt = 0; attempt < 30 && owned.size < tags.length; attempt++) {
    const id = await createSession(proxy);
    const tag = instanceTagOf(id);
    assert.ok(tag !== undefined && tags.includes(tag), `id ${id} carries an instance tag`);
    assert.ok(servers.get(tag)?.app.sessions.get(id), `instance ${tag} owns ${id}`);
    if (!owned.has(tag)) owned.set(tag, id);
  }
  assert.equal(owned.size, 3, 'every instance received sessions');

  // Every session streams and translates through nginx; REST calls reach the owner in each style.
  const speech = await speechSamples();
  const clients = new Map<string, StreamClient>();
  for (const [tag, id] of owned) {
    const client = await StreamClient.open(t, proxy, id);
    clients.set(tag, client);
    await client.waitFor((frame) => frame.startsWith('READY'));
    client.sendAudio(speech.subarray(0, 16_000 * 6));
    await client.finish();
    assert.deepEqual(client.errors(), [], `${tag}: no ERROR frames`);
    assert.ok(client.translations().length > 0, `${tag}: translation frames through nginx`);

    const byQuery = await post(proxy, '/ping', { session_id: id });
    assert.equal(byQuery.json?.success, true, `${tag}: ping with the id in the query string`);
    const byBody = await post(proxy, '/ping', {}, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session_id: id }) });
    assert.equal(byBody.json?.success, true, `${tag}: ping with the id in a JSON body (nginx tries instances until the owner answers)`);
    const status = await fetch(`${proxy}/queue_status/${encodeURIComponent(id)}`);
    assert.equal(((await status.json()) as { status?: string }).status, 'active', `${tag}: queue_status by path`);
  }

  // Stop n1: only its session is affected.
  const victimId = owned.get('n1') ?? '';
  const victimClient = clients.get('n1');
  await servers.get('n1')?.stop();
  assert.ok(victimClient);
  const code = await victimClient.waitForClose();
  assert.ok(code === 1001 || code === 1006 || code === 1011, `n1's socket closed (code ${code})`);
  const orphanPing = await post(proxy, '/ping', { session_id: victimId });
  assert.ok(orphanPing.status >= 500 || orphanPing.json?.success === false, 'n1 sessions are gone');

  for (const tag of ['n0', 'n2']) {
    const id = owned.get(tag) ?? '';
    const ping = await post(proxy, '/ping', { session_id: id });
    assert.equal(ping.json?.success, true, `${tag}: session still alive`);
    const client = clients.get(tag);
    assert.ok(client);
    assert.equal(client.closeCode, null, `${tag}: socket still open`);
    const before = client.frames.length;
    client.sendAudio(speech.subarray(16_000 * 6, 16_000 * 10));
    await client.finish();
    assert.deepEqual(client.frames.slice(before).filter((frame) => frame.startsWith('ERROR')), [], `${tag}: still translating`);
  }

  // New sessions go to the surviving instances.
  for (let i = 0; i < 4; i++) {
    const id = await createSession(proxy);
    assert.notEqual(instanceTagOf(id), 'n1', 'no new session on the stopped instance');
  }
});
