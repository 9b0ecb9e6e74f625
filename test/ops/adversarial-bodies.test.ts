/**
 * One request must not freeze the server. Against a listening server on the real engine, while a
 * paced stream runs on another session: a ~1 MiB adversarial body to every POST route (multipart
 * headers that once took 45 s to parse, and every numeric parameter as a 1 MiB string of digits,
 * once 7.4 s for 60,000 digits) is answered within a few seconds, the event loop never stalls, and
 * the stream keeps getting text.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'node:test';
import { createSession, routesOf, speechSamples, startServer, StreamClient } from './support/ops-harness.ts';

const BODY_BYTES = 1_000_000;
/** A generous bound for a loaded machine; the quadratic parsers needed 45 s and 7.4 s. */
const ANSWER_WITHIN_MS = 5_000;
const NUMERIC_PARAMETERS = ['latency_multiplier', 'max_batch_size', 'batch_timeout_ms', 'wait_threshold_ms', 'min_batch_size'];


function multipartBomb(): { body: string; contentType: string } {
  const boundary = 'b0undary';
  const header = 'content-disposition: form-data;'.repeat(Math.floor((BODY_BYTES - 200) / 31));
  return { body: `--${boundary}\r\n${header}\r\n\r\nvalue\r\n--${boundary}--\r\n`, contentType: `multipart/form-data; boundary=${boundary}` };
}

function digitsBomb(): string {
  const digits = `${'9'.repeat(Math.floor(BODY_BYTES / NUMERIC_PARAMETERS.length) - 20)}x`;
  return JSON.stringify(Object.fromEntries(NUMERIC_PARAMETERS.map((name) => [name, digits])));
}

async function timedPost(url: string, body: string, contentType: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

test('a 1 MiB adversarial body to any POST route is answered quickly and a live stream keeps getting text', async (t) => {
  const server = await startServer(t);
  const routes = routesOf(server.app, 'POST');
  assert.ok(routes.includes('/init') && routes.includes('/delete_session') && routes.includes('/ray/configure'), `routes found: ${routes.join(', ')}`);

  const speech = await speechSamples();
  const id = await createSession(server.baseUrl);
  const stream = await StreamClient.open(t, server.baseUrl, id);
  let streaming = true;
  const frameSamples = 30_720;
  const pacing = (async () => {
    for (let offset = 0; streaming; offset = (offset + frameSamples) % (speech.length - frameSamples)) {
      stream.sendAudio(speech.subarray(offset, offset + frameSamples), frameSamples);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  await stream.waitFor((frame) => stream.translations().includes(frame));

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const textBefore = stream.translations().length;
  const slow: string[] = [];
  const bomb = multipartBomb();
  const digits = digitsBomb();
  for (const route of routes) {
    for (const [kind, body, contentType] of [['multipart', bomb.body, bomb.contentType], ['digits', digits, 'application/json']] as const) {
      const { status, ms } = await timedPost(`${server.baseUrl}${route}`, body, contentType);
      assert.ok(status < 500 || status === 503, `${route} (${kind}) answered ${status}`);
      if (ms > ANSWER_WITHIN_MS) slow.push(`${route} (${kind}): ${ms.toFixed(0)} ms`);
    }
  }
  loop.disable();
  assert.deepEqual(slow, [], 'every adversarial request is answered within a few seconds');
  assert.ok(loop.max / 1e6 < ANSWER_WITHIN_MS, `the event loop stalled for ${(loop.max / 1e6).toFixed(0)} ms`);

  // The stream on the other session still gets text.
  await stream.waitFor(() => stream.translations().length > textBefore);
  streaming = false;
  await pacing;
  await stream.finish();
  assert.deepEqual(stream.errors(), []);
});
