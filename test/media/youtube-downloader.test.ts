import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { AppError } from '../../src/errors.ts';
import { DownloadCache } from '../../src/media/download-cache.ts';
import { YoutubeDownloader } from '../../src/media/youtube-downloader.ts';
import type { DownloadLimits } from '../../src/media/youtube-downloader.ts';
import type { VideoFetcher } from '../../src/media/video-fetcher.ts';
import { fixtureFetcher } from './support/fixture-fetcher.ts';
import type { CatalogueEntry } from './support/fixture-fetcher.ts';
import { startFixtureServer } from './support/fixture-server.ts';
import type { FixtureServer } from './support/fixture-server.ts';
import { generateMedia, makeTempDir } from './support/media-fixtures.ts';

const limits: DownloadLimits = {
  maxBytes: 10 * 1024 * 1024, maxDurationSeconds: 600, timeoutMs: 30_000, stallTimeoutMs: 10_000, maxConcurrent: 2, maxQueued: 2,
};

interface Harness {
  server: FixtureServer;
  downloader: YoutubeDownloader;
  cache: DownloadCache;
  fetcher: ReturnType<typeof fixtureFetcher>;
  cacheDir: string;
  clip: Buffer;
}

// One generated mp4 shared by every test in this file.
let clipPromise: Promise<Buffer> | undefined;
async function clip(): Promise<Buffer> {
  clipPromise ??= (async () => {
    const temp = await makeTempDir('yt-clip');
    try {
      return await readFile(await generateMedia(temp.dir, 'mp4', 1.536));
    } finally {
      await temp.remove();
    }
  })();
  return clipPromise;
}

async function harness(
  t: { after(fn: () => Promise<void> | void): void },
  catalogue: Record<string, CatalogueEntry>,
  options: { limits?: Partial<DownloadLimits>; cacheMaxBytes?: number; fetcher?: VideoFetcher } = {},
): Promise<Harness> {
  const bytes = await clip();
  const server = await startFixtureServer({ clip: bytes, other: Buffer.concat([bytes, bytes]) });
  const temp = await makeTempDir('yt-cache');
  const cache = new DownloadCache({ dir: temp.dir, maxBytes: options.cacheMaxBytes ?? 100 * 1024 * 1024 });
  await cache.init();
  const fetcher = fixtureFetcher(server.baseUrl, catalogue);
  const downloader = new YoutubeDownloader({ fetcher: options.fetcher ?? fetcher, cache, limits: { ...limits, ...options.limits } });
  t.after(async () => {
    await downloader.close();
    await server.close();
    await temp.remove();
  });
  return { server, downloader, cache, fetcher, cacheDir: temp.dir, clip: bytes };
}

const leftovers = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.endsWith('.part'));

test('downloads a video end to end from the fixture server into the cache', async (t) => {
  const h = await harness(t, { fixtureVid1: { path: '/media/clip', durationSeconds: 2 } });
  const video = await h.downloader.download({ url: 'https://www.youtube.com/watch?v=fixtureVid1', sessionId: 's1' });
  t.after(() => video.lease.release());
  assert.equal(video.videoId, 'fixtureVid1');
  assert.equal(video.fromCache, false);
  assert.equal(video.lease.mimeType, 'video/mp4');
  assert.deepEqual(await readFile(video.lease.filePath), h.clip);
  assert.equal(video.lease.sizeBytes, h.clip.length);
  const [progress] = h.downloader.progress({ sessionId: 's1' });
  assert.equal(progress?.state, 'done');
  assert.equal(progress?.receivedBytes, h.clip.length);
  assert.equal(progress?.totalBytes, h.clip.length);
  assert.equal(progress?.percent, 100);
  assert.deepEqual(h.downloader.progress({ sessionId: 'someone-else' }), []);
  assert.deepEqual(await leftovers(h.cacheDir), []);
});

test('serves a second request from the cache without downloading again', async (t) => {
  const h = await harness(t, { fixtureVid1: { path: '/chunked/clip' } });
  const first = await h.downloader.download({ url: 'fixtureVid1' });
  first.lease.release();
  const second = await h.downloader.download({ url: 'https://youtu.be/fixtureVid1', downloadId: 'mine-1' });
  second.lease.release();
  assert.equal(second.fromCache, true);
  assert.equal(second.downloadId, 'mine-1');
  assert.deepEqual(h.server.requests, ['/chunked/clip']);
  assert.equal(h.downloader.progress({ downloadId: 'mine-1' })[0]?.fromCache, true);
});

test('rejects bad URLs before any lookup', async (t) => {
  const h = await harness(t, {});
  for (const url of ['https://evil.example/watch?v=fixtureVid1', '--exec=id', 'file:///etc/passwd', undefined]) {
    await assert.rejects(h.downloader.download({ url }), (error: unknown) => error instanceof AppError && error.code === 'badRequest');
  }
  assert.deepEqual(h.fetcher.resolved, []);
  await assert.rejects(h.downloader.download({ url: 'fixtureVid1', downloadId: '../x' }), /download_id/);
});

test('refuses videos over the duration limit, and live streams, before downloading', async (t) => {
  const h = await harness(t, {
    longVideo01: { path: '/media/clip', durationSeconds: 601 },
    liveVideo01: { path: '/media/clip', isLive: true },
  }, { limits: { maxDurationSeconds: 600 } });
  await assert.rejects(h.downloader.download({ url: 'longVideo01' }), (error: unknown) =>
    error instanceof AppError && error.code === 'mediaTooLong' && /601 s long; the limit is 600 s/.test(error.message));
  await assert.rejects(h.downloader.download({ url: 'liveVideo01' }), /Live streams/);
  assert.deepEqual(h.server.requests, []);
});

test('refuses media over the size limit, declared or streamed, and leaves no partial file', async (t) => {
  const small = (await clip()).length;
  const h = await harness(t, {
    declared001: { path: '/media/clip', contentLengthBytes: 50 * 1024 * 1024 },
    streamed001: { path: '/chunked/other' },
    lengthHdr01: { path: '/media/other' },
    fitsLimit01: { path: '/chunked/clip' },
  }, { limits: { maxBytes: small + 10 } });
  const isTooLarge = (error: unknown): boolean =>
    error instanceof AppError && error.code === 'mediaTooLarge' && /larger than the \d+ MiB limit/.test(error.message);
  await assert.rejects(h.downloader.download({ url: 'declared001' }), isTooLarge);
  assert.deepEqual(h.server.requests, [], 'a declared size over the limit is refused before the transfer');
  await assert.rejects(h.downloader.download({ url: 'lengthHdr01' }), isTooLarge);
  await assert.rejects(h.downloader.download({ url: 'streamed001', sessionId: 'sz' }), isTooLarge);
  const [record] = h.downloader.progress({ sessionId: 'sz' });
  assert.equal(record?.state, 'failed');
  assert.ok((record?.receivedBytes ?? 0) > small, 'the streamed download was cut once past the limit');
  assert.deepEqual(await leftovers(h.cacheDir), []);
  assert.equal(h.cache.size, 0);
  const fits = await h.downloader.download({ url: 'fitsLimit01' });
  fits.lease.release();
  assert.equal(h.cache.size, 1);
});

test('fails a stalled transfer with a clear timeout error', async (t) => {
  const h = await harness(t, { stalled0001: { path: '/stall/clip' } }, { limits: { stallTimeoutMs: 100 } });
  await assert.rejects(h.downloader.download({ url: 'stalled0001' }), (error: unknown) =>
    error instanceof AppError && error.code === 'downloadTimeout' && /stalled/.test(error.message));
  assert.deepEqual(await leftovers(h.cacheDir), []);
});

test('fails a download that exceeds the overall time limit', async (t) => {
  const h = await harness(t, { slowVideo01: { path: '/hold/clip' } }, { limits: { timeoutMs: 100 } });
  await assert.rejects(h.downloader.download({ url: 'slowVideo01' }), (error: unknown) =>
    error instanceof AppError && error.code === 'downloadTimeout' && /took longer than/.test(error.message));
});

test('reports upstream failures (missing video, HTTP error, HTML instead of video) as download errors', async (t) => {
  const h = await harness(t, { httpError01: { path: '/status/403' }, htmlPage001: { path: '/html' } });
  const isDownloadFailed = (pattern: RegExp) => (error: unknown): boolean =>
    error instanceof AppError && error.code === 'downloadFailed' && pattern.test(error.message);
  await assert.rejects(h.downloader.download({ url: 'missingVid1' }), isDownloadFailed(/not available/));
  await assert.rejects(h.downloader.download({ url: 'httpError01' }), isDownloadFailed(/HTTP 403/));
  await assert.rejects(h.downloader.download({ url: 'htmlPage001' }), isDownloadFailed(/text\/html/));
});

test('runs at most maxConcurrent downloads, queues maxQueued, refuses the rest', async (t) => {
  const h = await harness(t, {
    concurrent1: { path: '/hold/clip' }, concurrent2: { path: '/hold/clip' },
    concurrent3: { path: '/hold/clip' }, concurrent4: { path: '/hold/clip' },
  }, { limits: { maxConcurrent: 2, maxQueued: 1 } });
  const running = ['concurrent1', 'concurrent2', 'concurrent3'].map((url) => h.downloader.download({ url, sessionId: 'many' }));
  await h.server.waitForOpen(2);
  assert.equal(h.downloader.activeDownloads, 2);
  assert.equal(h.downloader.queuedDownloads, 1);
  const states = h.downloader.progress({ sessionId: 'many' }).map((p) => p.state).sort();
  assert.deepEqual(states, ['downloading', 'downloading', 'queued']);
  await assert.rejects(h.downloader.download({ url: 'concurrent4' }), (error: unknown) =>
    error instanceof AppError && error.code === 'overloaded' && /try again later/.test(error.message));
  h.server.release();
  const videos = await Promise.all(running);
  for (const video of videos) video.lease.release();
  assert.equal(h.server.maxOpen, 2);
  assert.equal(h.server.requests.length, 3);
  assert.equal(h.downloader.activeDownloads, 0);
});

test('requests for the same video share one download', async (t) => {
  const h = await harness(t, { sharedVid01: { path: '/hold/clip' } });
  const a = h.downloader.download({ url: 'sharedVid01', sessionId: 'a' });
  const b = h.downloader.download({ url: 'https://www.youtube.com/shorts/sharedVid01', sessionId: 'b' });
  await h.server.waitForOpen(1);
  h.server.release();
  const [first, second] = await Promise.all([a, b]);
  first.lease.release();
  second.lease.release();
  assert.equal(h.server.requests.length, 1);
  assert.equal(first.lease.filePath, second.lease.filePath);
  assert.notEqual(first.downloadId, second.downloadId);
});

test('cancels the transfer when every requester has gone away', async (t) => {
  const h = await harness(t, { cancelVid01: { path: '/hold/clip' } });
  const controller = new AbortController();
  const pending = h.downloader.download({ url: 'cancelVid01', signal: controller.signal, sessionId: 'gone' });
  await h.server.waitForOpen(1);
  controller.abort(new Error('client left'));
  await assert.rejects(pending, /client left/);
  // The shared job notices nobody waits and aborts; its record shows why.
  await waitFor(() => h.downloader.progress({ sessionId: 'gone' })[0]?.state === 'failed');
  assert.match(h.downloader.progress({ sessionId: 'gone' })[0]?.error ?? '', /cancelled/);
  assert.deepEqual(await leftovers(h.cacheDir), []);
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
