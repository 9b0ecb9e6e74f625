/**
 * The OpenAPI document of the HTTP API: generated from the routes' zod schemas, committed in
 * docs/openapi.json (kept current by this test), served at /openapi.json only when enabled.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { generateOpenApi, OPENAPI_FILE } from '../../scripts/openapi.ts';
import { buildTestApp } from '../app/helpers.ts';

test('docs/openapi.json is the document the routes generate (run npm run openapi after changing a route)', async () => {
  const committed = await readFile(OPENAPI_FILE, 'utf8');
  assert.equal(await generateOpenApi(), committed);
  const document = JSON.parse(committed) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.equal(document.openapi, '3.0.3');
  for (const path of ['/init', '/queue_status/{session_id}', '/ping', '/delete_session', '/health', '/ray/configure', '/download_youtube']) {
    assert.ok(document.paths[path], `${path} is documented`);
  }
  // The query parameters come from the zod schemas, with their constraints.
  const init = document.paths['/init']?.post as { parameters: { name: string; in: string; required?: boolean }[] };
  assert.deepEqual(init.parameters.filter((parameter) => parameter.in === 'query').map((parameter) => [parameter.name, parameter.required ?? false]).sort(), [
    ['agent_type', true], ['client_id', false], ['evaluation_mode', false], ['language_pair', true], ['latency_multiplier', false],
  ]);
});

test('/openapi.json is served only when server.openApi is on', async (t) => {
  const off = await buildTestApp(t);
  assert.equal((await off.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 404);
  const on = await buildTestApp(t, { config: { server: { openApi: true } } });
  const reply = await on.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(reply.statusCode, 200);
  const served = reply.json<{ paths: Record<string, unknown> }>();
  const committed = JSON.parse(await readFile(OPENAPI_FILE, 'utf8')) as { paths: Record<string, unknown> };
  assert.deepEqual(Object.keys(served.paths).sort(), Object.keys(committed.paths).sort());
});
