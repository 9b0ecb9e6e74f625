/**
 * A stand-in for the YouTube downloader (the test machines have no internet): it "downloads"
 * a local video file, or fails with a downloader error for URLs containing "unavailable".
 */
import { statSync } from 'node:fs';
import { AppError } from '../../../src/errors.ts';
import type { DownloadRequest, DownloadedVideo, YoutubeDownloader } from '../../../src/media/youtube-downloader.ts';

export function fakeYoutubeDownloader(videoPath: string, mimeType: string): Pick<YoutubeDownloader, 'download' | 'progress'> {
  return {
    async download(request: DownloadRequest): Promise<DownloadedVideo> {
      if (String(request.url).includes('unavailable')) throw new AppError('downloadFailed', 'Video unavailable: this video is private');
      const videoId = 'dQw4w9WgXcQ';
      return {
        downloadId: request.downloadId ?? 'fake',
        videoId,
        fromCache: false,
        lease: { videoId, filePath: videoPath, sizeBytes: statSync(videoPath).size, mimeType, release: () => {} },
      };
    },
    progress: () => [],
  };
}
