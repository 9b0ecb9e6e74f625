import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { AppError } from '../../src/errors.ts';
import { DownloadCache } from '../../src/media/download-cache.ts';
import { YoutubeDownloader } from '../../src/media/youtube-downloader.ts';
import { createYoutubeiFetcher } from '../../src/media/youtubei-fetcher.ts';
import { makeTempDir } from './support/media-fixtures.ts';

test('every request youtubei.js makes goes through the YouTube host allow-list', async () => {
  const contacted: URL[] = [];
  const fetcher = createYoutubeiFetcher({
    fetchImpl: async (input, init) => {
      contacted.push(new URL(new Request(input, init).url));
      return new Response('unavailable', { status: 503 });
    },
  });
  await assert.rejects(fetcher.resolve('dQw4w9WgXcQ', new AbortController().signal), (error: unknown) =>
    error instanceof AppError && error.code === 'downloadFailed');
  assert.ok(contacted.length > 0, 'the library did try to reach YouTube');
  for (const url of contacted) {
    assert.equal(url.protocol, 'https:');
    assert.match(url.hostname, /(^|\.)(youtube\.com|youtu\.be|googlevideo\.com|ytimg\.com|youtube-nocookie\.com)$/);
  }
});

test('an aborted lookup stops at once', async () => {
  const fetcher = createYoutubeiFetcher({ fetchImpl: () => new Promise<Response>(() => undefined) });
  const controller = new AbortController();
  const pending = fetcher.resolve('dQw4w9WgXcQ', controller.signal);
  controller.abort(new Error('gave up'));
  await assert.rejects(pending, /gave up/);
});

// Opt-in: these machines cannot reach YouTube. Set INFINISST_TEST_YOUTUBE_URL to a short video.
const liveUrl = process.env.INFINISST_TEST_YOUTUBE_URL;
test('downloads a real YouTube video with youtubei.js', {
  skip: liveUrl ? false : 'set INFINISST_TEST_YOUTUBE_URL=<short YouTube video URL> to run against the real YouTube',
  timeout: 180_000,
}, async (t) => {
  const temp = await makeTempDir('yt-live');
  t.after(() => temp.remove());
  const cache = new DownloadCache({ dir: temp.dir, maxBytes: 1024 ** 3 });
  await cache.init();
  const downloader = new YoutubeDownloader({
    fetcher: createYoutubeiFetcher(),
    cache,
    limits: { maxBytes: 512 * 1024 ** 2, maxDurationSeconds: 3600, timeoutMs: 120_000, stallTimeoutMs: 30_000, maxConcurrent: 1, maxQueued: 0 },
  });
  t.after(() => downloader.close());
  const video = await downloader.download({ url: liveUrl });
  t.after(() => video.lease.release());
  assert.match(video.lease.mimeType, /^video\//);
  const head = (await readFile(video.lease.filePath)).subarray(4, 8).toString('latin1');
  assert.ok(head === 'ftyp' || video.lease.mimeType === 'video/webm', `unexpected file start ${head}`);
});
