/**
 * Real Python clients: the original's client scripts call `aiohttp.ClientSession().post(url)` with
 * parameters in the query string and no body, which sends `Content-Type: application/octet-stream`
 * and `Content-Length: 0`. Every POST route must read that as "no body" (it once answered 415 to
 * all of them), and a non-empty body of a type no route reads gets a clear 415.
 * Needs Debian's python3-aiohttp under /usr/bin/python3 (or INFINISST_PYTHON); .ci/run installs it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createSession, routesOf, startServer } from './support/ops-harness.ts';

const run = promisify(execFile);
const PYTHON = process.env.INFINISST_PYTHON ?? '/usr/bin/python3';


const CLIENT = `
import asyncio, json, sys
import aiohttp

async def main():
    base, requests = sys.argv[1], json.loads(sys.argv[2])
    out = []
    async with aiohttp.ClientSession() as session:
        for path, params, body in requests:
            kwargs = {"params": params}
            if body is not None:
                kwargs["data"] = body.encode()
                kwargs["headers"] = {"Content-Type": "application/octet-stream"}
            async with session.post(base + path, **kwargs) as response:
                out.append([path, response.status, await response.text()])
    print(json.dumps(out))

asyncio.run(main())
`;

test('aiohttp session.post(url) with no body reaches every POST route; a foreign non-empty body gets a clear 415', async (t) => {
  const server = await startServer(t);
  const id = await createSession(server.baseUrl);
  const pair = 'English -> German';
  const params: Record<string, Record<string, string>> = {
    '/init': { agent_type: 'InfiniSST', language_pair: pair, latency_multiplier: '2', client_id: 'aiohttp_client' },
    '/load_model': { language_pair: pair, client_id: 'aiohttp_test' },
    '/ping': { session_id: id },
    '/delete_session': { session_id: 'unknown' },
    '/reset_translation': { session_id: id },
    '/update_latency': { session_id: id, latency_multiplier: '3' },
    '/enable_evaluation_mode': { session_id: id },
    '/export_session_delays': { session_id: id },
    '/export_session_delays_by_user': { user_id: 'aiohttp_client', language_pair: pair },
    '/ray/configure': { max_batch_size: '32' },
    '/configure_dynamic_schedule': { enabled: 'true' },
    '/download_youtube': { url: 'not a youtube link' },
  };
  const routes = routesOf(server.app, 'POST');
  const requests = routes.map((path) => [path, params[path] ?? {}, null]);
  requests.push(['/ping', { session_id: id }, 'binary body']);
  const { stdout } = await run(PYTHON, ['-c', CLIENT, server.baseUrl, JSON.stringify(requests)], { timeout: 60_000 });
  const replies = JSON.parse(stdout) as [string, number, string][];
  for (const [path, status, text] of replies.slice(0, -1)) {
    assert.notEqual(status, 415, `${path}: ${text}`);
    assert.ok(status < 500, `${path}: ${status} ${text}`);
  }
  const init = JSON.parse(replies.find(([path]) => path === '/init')?.[2] ?? '{}') as { session_id?: string };
  assert.ok(init.session_id, 'aiohttp created a session');
  const ping = JSON.parse(replies.find(([path]) => path === '/ping')?.[2] ?? '{}') as { success?: boolean };
  assert.equal(ping.success, true);
  const [, foreignStatus, foreignText] = replies.at(-1) ?? [];
  assert.equal(foreignStatus, 415);
  assert.match(String(foreignText), /application\/octet-stream is not accepted: send parameters in the query string, or a body of application\/json/);
});
