import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { DownloadCache } from '../../src/media/download-cache.ts';
import { YoutubeDownloader } from '../../src/media/youtube-downloader.ts';
import { registerBodyParsers } from '../../src/plugins/request-params.ts';
import { mediaRoutes } from '../../src/routes/media.ts';
import type { MediaRoutesOptions } from '../../src/routes/media.ts';
import { fixtureFetcher } from '../media/support/fixture-fetcher.ts';
import { startFixtureServer } from '../media/support/fixture-server.ts';
import type { FixtureServer } from '../media/support/fixture-server.ts';
import { generateMedia, makeTempDir } from '../media/support/media-fixtures.ts';

interface Setup {
  app: FastifyInstance;
  server: FixtureServer;
  clip: Buffer;
  testVideoDir: string;
  root: string;
}

async function setup(t: { after(fn: () => Promise<void>): void }, extra: Partial<MediaRoutesOptions> = {}): Promise<Setup> {
  const temp = await makeTempDir('media-routes');
  const clipPath = await generateMedia(temp.dir, 'mp4', 1.536, 'clip.mp4');
  const clip = await readFile(clipPath);
  const server = await startFixtureServer({ clip });
  const cache = new DownloadCache({ dir: join(temp.dir, 'cache'), maxBytes: 50 * 1024 * 1024 });
  await cache.init();
  const downloader = new YoutubeDownloader({
    fetcher: fixtureFetcher(server.baseUrl, { fixtureVid1: { path: '/media/clip', durationSeconds: 1.5 }, tooLongVid1: { path: '/media/clip', durationSeconds: 99_999 } }),
    cache,
    limits: { maxBytes: 10 * 1024 * 1024, maxDurationSeconds: 3600, timeoutMs: 30_000, stallTimeoutMs: 10_000, maxConcurrent: 2, maxQueued: 2 },
  });
  const testVideoDir = join(temp.dir, 'test_video');
  await mkdir(testVideoDir);
  await writeFile(join(testVideoDir, '0000AAAA.mp4'), clip);
  await writeFile(join(testVideoDir, '2022.acl-long.110.wav'), Buffer.from('RIFF....WAVE'));
  await writeFile(join(temp.dir, 'secret.txt'), 'top secret');
  await symlink(join(temp.dir, 'secret.txt'), join(testVideoDir, 'link.mp4'));

  const app = Fastify();
  registerBodyParsers(app);
  await app.register(mediaRoutes, { downloader, testVideoDir, ...extra });
  await app.ready();
  t.after(async () => {
    await app.close();
    await downloader.close();
    await server.close();
    await temp.remove();
  });
  return { app, server, clip, testVideoDir, root: temp.dir };
}

test('POST /download_youtube returns the video for a URL in the query string', async (t) => {
  const { app, clip } = await setup(t);
  const reply = await app.inject({
    method: 'POST',
    url: `/download_youtube?url=${encodeURIComponent('https://www.youtube.com/watch?v=fixtureVid1')}&session_id=${encodeURIComponent('client_x_English -> Chinese_1')}`,
  });
  assert.equal(reply.statusCode, 200);
  assert.match(String(reply.headers['content-type'] ?? ''), /^video\//);
  assert.deepEqual(reply.rawPayload, clip);
  assert.match(String(reply.headers['content-disposition']), /^attachment; filename="video_client_x_English -_ Chinese_1.mp4"/);
  assert.ok(reply.headers['x-download-id']);
});

test('POST /download_youtube reads a JSON body when the query lacks the parameters', async (t) => {
  const { app, server } = await setup(t);
  const reply = await app.inject({
    method: 'POST', url: '/download_youtube?session_id=s1', payload: { url: 'https://youtu.be/fixtureVid1', session_id: 'ignored', download_id: 'dl-1' },
  });
  assert.equal(reply.statusCode, 200);
  assert.match(String(reply.headers['content-type'] ?? ''), /^video\/mp4/);
  assert.equal(reply.headers['x-download-id'], 'dl-1');
  assert.equal(server.requests.length, 1);

  const progress = await app.inject({ method: 'GET', url: '/download_youtube/progress?session_id=s1' });
  assert.equal(progress.statusCode, 200);
  const body = progress.json() as { success: boolean; downloads: Array<Record<string, unknown>> };
  assert.equal(body.success, true);
  assert.equal(body.downloads.length, 1);
  assert.deepEqual({ ...body.downloads[0] }, {
    download_id: 'dl-1', video_id: 'fixtureVid1', state: 'done', received_bytes: reply.rawPayload.length,
    total_bytes: reply.rawPayload.length, percent: 100, from_cache: false, error: null,
  });
  const byId = await app.inject({ method: 'GET', url: '/download_youtube/progress?download_id=dl-1' });
  assert.equal((byId.json() as { downloads: unknown[] }).downloads.length, 1);
  const none = await app.inject({ method: 'GET', url: '/download_youtube/progress' });
  assert.deepEqual(none.json(), { success: false, error: 'session_id or download_id is required' });
});

test('POST /download_youtube answers failures with HTTP 200 and {"error"} as the original', async (t) => {
  const { app, server } = await setup(t);
  const cases: Array<[string, RegExp]> = [
    ['/download_youtube', /^Missing URL parameter$/],
    ['/download_youtube?url=', /^Missing URL parameter$/],
    [`/download_youtube?url=${encodeURIComponent('https://evil.example/watch?v=fixtureVid1')}`, /^Invalid YouTube URL/],
    [`/download_youtube?url=${encodeURIComponent('--exec=touch /tmp/x')}`, /^Invalid YouTube URL/],
    [`/download_youtube?url=${encodeURIComponent('file:///etc/passwd')}`, /^Invalid YouTube URL/],
    [`/download_youtube?url=${'a'.repeat(5000)}`, /^Invalid parameters/],
    ['/download_youtube?url=tooLongVid1', /limit is 3600 s/],
    ['/download_youtube?url=missingVid1', /not available/],
  ];
  for (const [url, pattern] of cases) {
    const reply = await app.inject({ method: 'POST', url });
    assert.equal(reply.statusCode, 200, url);
    assert.match(String(reply.headers['content-type'] ?? ''), /application\/json/);
    const body = reply.json() as { error: string };
    assert.match(body.error, pattern, url);
  }
  const numeric = await app.inject({ method: 'POST', url: '/download_youtube', payload: { url: 42 } });
  assert.match((numeric.json() as { error: string }).error, /^Invalid parameters/);
  assert.deepEqual(server.requests, []);
});

test('POST /download_youtube can require a known session', async (t) => {
  const { app } = await setup(t, { isKnownSession: (id) => id === 'good' });
  const refused = await app.inject({ method: 'POST', url: '/download_youtube?url=fixtureVid1&session_id=bad' });
  assert.deepEqual(refused.json(), { error: 'Invalid session ID' });
  const accepted = await app.inject({ method: 'POST', url: '/download_youtube?url=fixtureVid1&session_id=good' });
  assert.match(String(accepted.headers['content-type'] ?? ''), /^video\//);
});

test('GET /test_video serves files from the folder, with byte ranges for seeking', async (t) => {
  const { app, clip } = await setup(t);
  const full = await app.inject({ method: 'GET', url: '/test_video/0000AAAA.mp4' });
  assert.equal(full.statusCode, 200);
  assert.equal(full.headers['content-type'], 'video/mp4');
  assert.equal(full.headers['accept-ranges'], 'bytes');
  assert.equal(Number(full.headers['content-length']), clip.length);
  assert.deepEqual(full.rawPayload, clip);

  const part = await app.inject({ method: 'GET', url: '/test_video/0000AAAA.mp4', headers: { range: 'bytes=100-199' } });
  assert.equal(part.statusCode, 206);
  assert.equal(part.headers['content-range'], `bytes 100-199/${clip.length}`);
  assert.equal(part.headers['content-length'], '100');
  assert.deepEqual(part.rawPayload, clip.subarray(100, 200));

  const tail = await app.inject({ method: 'GET', url: '/test_video/0000AAAA.mp4', headers: { range: 'bytes=-10' } });
  assert.deepEqual(tail.rawPayload, clip.subarray(clip.length - 10));

  const beyond = await app.inject({ method: 'GET', url: '/test_video/0000AAAA.mp4', headers: { range: `bytes=${clip.length}-` } });
  assert.equal(beyond.statusCode, 416);
  assert.equal(beyond.headers['content-range'], `bytes */${clip.length}`);

  const stale = await app.inject({ method: 'GET', url: '/test_video/0000AAAA.mp4', headers: { range: 'bytes=0-9', 'if-range': '"old"' } });
  assert.equal(stale.statusCode, 200, 'a stale If-Range gets the whole file');
  const fresh = await app.inject({ method: 'GET', url: '/test_video/0000AAAA.mp4', headers: { range: 'bytes=0-9', 'if-range': String(full.headers.etag) } });
  assert.equal(fresh.statusCode, 206);

  const head = await app.inject({ method: 'HEAD', url: '/test_video/0000AAAA.mp4' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.rawPayload.length, 0);
  assert.equal(head.headers['content-length'], full.headers['content-length'], 'HEAD tells the size of the file');
  assert.ok(Number(head.headers['content-length']) > 0);

  const wav = await app.inject({ method: 'GET', url: '/test_video/2022.acl-long.110.wav' });
  assert.equal(wav.headers['content-type'], 'audio/wav');
});

test('GET /test_video rejects traversal and absolute paths and never discloses server paths', async (t) => {
  const { app, root } = await setup(t);
  const attempts = [
    '/test_video/..%2Fsecret.txt',
    '/test_video/..%2F..%2F..%2Fetc%2Fpasswd',
    '/test_video/%2Fetc%2Fpasswd',
    '/test_video/..%5Csecret.txt',
    '/test_video/%2E%2E',
    '/test_video/.hidden',
    '/test_video/a%00.mp4',
  ];
  for (const url of attempts) {
    const reply = await app.inject({ method: 'GET', url });
    assert.ok(reply.statusCode === 400 || reply.statusCode === 404, `${url} -> ${reply.statusCode}`);
    assert.ok(!reply.body.includes(root), `${url} leaks a server path`);
    assert.ok(!reply.body.includes('top secret'), `${url} leaks the file`);
  }
  // Unencoded dot segments never reach the route (no such path), and still leak nothing.
  const raw = await app.inject({ method: 'GET', url: '/test_video/../secret.txt' });
  assert.ok(raw.statusCode >= 400 && !raw.body.includes('top secret'));

  for (const name of ['missing.mp4', 'link.mp4']) {
    const reply = await app.inject({ method: 'GET', url: `/test_video/${name}` });
    assert.equal(reply.statusCode, 404, name);
    assert.deepEqual(reply.json(), { detail: `Test video '${name}' not found` });
  }
});
