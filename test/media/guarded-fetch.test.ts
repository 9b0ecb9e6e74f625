import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.ts';
import { createGuardedFetch, httpsHostAllowList, youtubeHostSuffixes } from '../../src/media/guarded-fetch.ts';
import { startFixtureServer } from './support/fixture-server.ts';

const loopbackOnly = (url: URL): boolean => url.protocol === 'http:' && url.hostname === '127.0.0.1';

test('follows redirects that stay on allowed hosts', async (t) => {
  const server = await startFixtureServer({ clip: Buffer.from('0123456789') });
  t.after(() => server.close());
  const guarded = createGuardedFetch({ isAllowedUrl: loopbackOnly });
  const response = await guarded(`${server.baseUrl}/redirect?to=${encodeURIComponent('/media/clip')}`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '0123456789');
});

test('refuses a redirect to another host before contacting it', async (t) => {
  const server = await startFixtureServer({ clip: Buffer.from('x') });
  t.after(() => server.close());
  const contacted: string[] = [];
  const guarded = createGuardedFetch({
    isAllowedUrl: loopbackOnly,
    fetchImpl: (input, init) => {
      contacted.push(new Request(input, init).url);
      return fetch(input, init);
    },
  });
  const port = new URL(server.baseUrl).port;
  for (const target of [`http://localhost:${port}/media/clip`, 'http://169.254.169.254/latest/meta-data/', 'file:///etc/passwd']) {
    contacted.length = 0;
    await assert.rejects(
      guarded(`${server.baseUrl}/redirect?to=${encodeURIComponent(target)}`),
      (error: unknown) => error instanceof AppError && error.code === 'downloadFailed' && /not allowed/.test(error.message),
      target,
    );
    assert.equal(contacted.length, 1, 'only the first, allowed URL was fetched');
  }
});

test('refuses a disallowed first URL without any network request', async () => {
  let calls = 0;
  const guarded = createGuardedFetch({
    isAllowedUrl: httpsHostAllowList(youtubeHostSuffixes),
    fetchImpl: async () => {
      calls += 1;
      return new Response('');
    },
  });
  for (const url of ['http://www.youtube.com/', 'https://evil.example/', 'https://youtube.com.evil.example/', 'https://www.youtube.com:444/', 'https://a@www.youtube.com/']) {
    await assert.rejects(guarded(url), AppError, url);
  }
  assert.equal(calls, 0);
  await guarded('https://rr3---sn-abc.googlevideo.com/videoplayback?x=1');
  await guarded('https://www.youtube.com/youtubei/v1/player');
  assert.equal(calls, 2);
});

test('gives up after too many redirects', async (t) => {
  const server = await startFixtureServer({});
  t.after(() => server.close());
  const guarded = createGuardedFetch({ isAllowedUrl: loopbackOnly, maxRedirects: 3 });
  let target = '/media/none';
  for (let i = 0; i < 5; i += 1) target = `/redirect?to=${encodeURIComponent(target)}`;
  await assert.rejects(guarded(`${server.baseUrl}${target}`), /Too many redirects/);
});
