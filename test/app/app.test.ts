import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { sharedEngine } from './shared-engine.ts';
import { buildTestApp, testConfig } from './helpers.ts';

test('unknown routes answer 404 JSON', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: 'GET', url: '/no/such/route' });
  assert.equal(response.statusCode, 404);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  assert.equal(response.json<{ detail: string }>().detail, 'Not Found');
});

test('with cors.origins ["*"], CORS reflects the Origin with credentials, as the original did', async (t) => {
  const { app } = await buildTestApp(t, { config: { cors: { origins: ['*'] } } });
  const response = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://example.org' } });
  assert.equal(response.headers['access-control-allow-origin'], 'https://example.org');
  assert.equal(response.headers['access-control-allow-credentials'], 'true');
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/init',
    headers: { origin: 'https://example.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  assert.equal(preflight.statusCode, 204);
  assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
});

test('CORS can be limited to an allow-list', async (t) => {
  const { app } = await buildTestApp(t, { config: { cors: { origins: ['https://ok.example'] } } });
  const denied = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
  assert.equal(denied.headers['access-control-allow-origin'], undefined);
  const allowed = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://ok.example' } });
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://ok.example');
});

test('by default only the server\'s own pages and Origin-less clients may drive it: other sites get 403 and no CORS headers', async (t) => {
  const { app } = await buildTestApp(t);
  const init = '/init?agent_type=InfiniSST&language_pair=English+-%3E+Chinese';
  const foreign = await app.inject({ method: 'POST', url: init, headers: { origin: 'https://evil.example', host: 'translate.local:8000' } });
  assert.equal(foreign.statusCode, 403);
  assert.equal(foreign.json<{ code: string }>().code, 'originNotAllowed');
  assert.equal(foreign.headers['access-control-allow-origin'], undefined);
  const configure = await app.inject({ method: 'POST', url: '/ray/configure?max_batch_size=1', headers: { origin: 'null', host: 'translate.local:8000' } });
  assert.equal(configure.statusCode, 403, 'a sandboxed or file:// page cannot reconfigure the server');
  const read = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
  assert.equal(read.statusCode, 200);
  assert.equal(read.json<{ status: string }>().status, 'healthy');
  assert.equal(read.headers['access-control-allow-origin'], undefined, 'the browser hides the answer from the other site');
  const own = await app.inject({ method: 'POST', url: init, headers: { origin: 'http://translate.local:8000', host: 'translate.local:8000' } });
  assert.ok(own.json<{ session_id?: string }>().session_id, 'the server\'s own page');
  const script = await app.inject({ method: 'POST', url: init });
  assert.ok(script.json<{ session_id?: string }>().session_id, 'a script sends no Origin');
});

test('an empty JSON body counts as absent; invalid JSON is 400 with a clear message', async (t) => {
  const { app } = await buildTestApp(t);
  const empty = await app.inject({
    method: 'POST',
    url: '/init?agent_type=InfiniSST&language_pair=English+-%3E+Chinese',
    headers: { 'content-type': 'application/json' },
    payload: '',
  });
  assert.equal(empty.statusCode, 200);
  assert.match(empty.json<{ session_id: string }>().session_id, /^InfiniSST_/);
  const broken = await app.inject({ method: 'POST', url: '/ping', headers: { 'content-type': 'application/json' }, payload: '{"session_id":' });
  assert.equal(broken.statusCode, 400);
  const body = broken.json<{ success: boolean; error: string }>();
  assert.equal(body.success, false);
  assert.match(body.error, /not valid JSON/);
});

test('GET / serves static/index.html and /static/* serves the worklet as JavaScript', async (t) => {
  const { app } = await buildTestApp(t);
  const page = await app.inject({ method: 'GET', url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.deepEqual(page.rawPayload, readFileSync(join(process.cwd(), 'static', 'index.html')));
  const worklet = await app.inject({ method: 'GET', url: '/static/audio-processor.js' });
  assert.equal(worklet.statusCode, 200);
  assert.match(String(worklet.headers['content-type']), /^text\/javascript/);
  assert.match(worklet.body, /registerProcessor\('pcm-processor'/);
  const fix = await app.inject({ method: 'GET', url: '/static/electron-audio-fix.js' });
  assert.equal(fix.statusCode, 200);
  assert.deepEqual(fix.rawPayload, readFileSync(join(process.cwd(), 'static', 'electron-audio-fix.js')));
  const etag = String(worklet.headers.etag);
  const cached = await app.inject({ method: 'GET', url: '/static/audio-processor.js', headers: { 'if-none-match': etag } });
  assert.equal(cached.statusCode, 304);
});

test('static files never leave the static folder', async (t) => {
  const { app } = await buildTestApp(t);
  for (const url of ['/static/../package.json', '/static/%2e%2e/package.json', '/static/..%2Fpackage.json', '/static/.hidden', '/static/%2Fetc%2Fpasswd', '/static//etc/passwd']) {
    const response = await app.inject({ method: 'GET', url });
    assert.ok(response.statusCode === 403 || response.statusCode === 404, `${url} -> ${response.statusCode}`);
    assert.doesNotMatch(response.body, /"name": "infinisst-serve"|root:/, url);
  }
});

test('web client files revalidate (ETag, Last-Modified), seek (Range) and answer HEAD', async (t) => {
  const { app } = await buildTestApp(t);
  const url = '/static/audio-processor.js';
  const full = await app.inject({ method: 'GET', url });
  assert.equal(full.statusCode, 200);
  assert.deepEqual(full.rawPayload, readFileSync(join(process.cwd(), 'static', 'audio-processor.js')));
  assert.equal(full.headers['cache-control'], 'no-cache');
  assert.equal(full.headers['accept-ranges'], 'bytes');
  const size = Number(full.headers['content-length']);
  assert.equal(size, full.rawPayload.length);

  const byDate = await app.inject({ method: 'GET', url, headers: { 'if-modified-since': String(full.headers['last-modified']) } });
  assert.equal(byDate.statusCode, 304);
  assert.equal(byDate.rawPayload.length, 0);

  const part = await app.inject({ method: 'GET', url, headers: { range: 'bytes=10-19' } });
  assert.equal(part.statusCode, 206);
  assert.equal(part.headers['content-range'], `bytes 10-19/${size}`);
  assert.deepEqual(part.rawPayload, full.rawPayload.subarray(10, 20));
  const beyond = await app.inject({ method: 'GET', url, headers: { range: `bytes=${size}-` } });
  assert.equal(beyond.statusCode, 416);

  const head = await app.inject({ method: 'HEAD', url });
  assert.equal(head.statusCode, 200);
  assert.equal(head.rawPayload.length, 0);
  assert.equal(Number(head.headers['content-length']), size);
});

test('a symlink in the static folder may not lead out of it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'infinisst-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'secret.txt'), 'top secret');
  writeFileSync(join(dir, 'web', 'page.html'), '<p>page</p>');
  symlinkSync(join(dir, 'secret.txt'), join(dir, 'web', 'leak.txt'));
  symlinkSync(join(dir, 'web', 'page.html'), join(dir, 'web', 'alias.html'));
  const engine = await sharedEngine();
  const custom = await buildApp(testConfig(t, { paths: { staticDirs: ['web'] } }), { engine, cwd: dir, runTimers: false });
  t.after(() => custom.close());
  const leak = await custom.inject({ method: 'GET', url: '/static/leak.txt' });
  assert.equal(leak.statusCode, 404);
  assert.doesNotMatch(leak.body, /top secret/);
  assert.equal((await custom.inject({ method: 'GET', url: '/static/alias.html' })).body, readFileSync(join(dir, 'web', 'page.html'), 'utf8'));
});

test('the first existing candidate static folder wins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'infinisst-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'web', 'index.html'), '<p>custom page</p>');
  const engine = await sharedEngine();
  const custom = await buildApp(testConfig(t, { paths: { staticDirs: ['missing', 'web'] } }), { engine, cwd: dir, runTimers: false });
  t.after(() => custom.close());
  assert.equal((await custom.inject({ method: 'GET', url: '/' })).body, '<p>custom page</p>');
});

test('beginShutdown stops admitting (503 shuttingDown) and /health reports shutting_down', async (t) => {
  const { app } = await buildTestApp(t);
  app.sessions.beginShutdown();
  const refused = await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese' });
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.json<{ code: string }>().code, 'shuttingDown');
  const health = await app.inject({ method: 'GET', url: '/health' });
  assert.equal(health.json<{ status: string }>().status, 'shutting_down');
});
