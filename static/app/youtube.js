/**
 * YouTube: the server downloads the video (POST /download_youtube) and sends it back; the page
 * shows the download's progress (GET /download_youtube/progress) and lets the person cancel.
 */
/* global AbortController */
import { ApiError } from './api.js';

const PROGRESS_POLL_MS = 1000;

/** Quick client-side check so an obviously wrong link gets an immediate, clear message. */
export function looksLikeYoutubeUrl(text) {
  try {
    const url = new URL(text.trim());
    return /(^|\.)youtube\.com$|(^|\.)youtu\.be$|(^|\.)youtube-nocookie\.com$/i.test(url.hostname);
  } catch {
    return false;
  }
}

export class YoutubeLoader {
  /** @param {{ api: typeof import('./api.js').api, onProgress: (text: string, percent: number|null) => void }} options */
  constructor({ api, onProgress }) {
    this.api = api;
    this.onProgress = onProgress;
    this.controller = null;
  }

  get isLoading() {
    return this.controller !== null;
  }

  /** Downloads the video for `sessionId`. Resolves with a Blob; throws ApiError or AbortError. */
  async load(url, sessionId) {
    this.cancel();
    const controller = new AbortController();
    this.controller = controller;
    const downloadId = `dl_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    this.onProgress('Asking the server to fetch the video…', null);
    const poll = setInterval(async () => {
      try {
        const reply = await this.api.youtubeProgress(downloadId);
        const item = reply.downloads?.[0];
        if (!item || controller.signal.aborted) return;
        const mb = (item.received_bytes / 1e6).toFixed(1);
        const text = item.percent !== null && item.percent !== undefined
          ? `Server downloading: ${Math.round(item.percent)} % (${mb} MB)`
          : `Server downloading: ${mb} MB`;
        this.onProgress(item.state === 'done' || item.from_cache ? 'Sending the video to your browser…' : text, item.percent ?? null);
      } catch {
        // Progress is a nicety; the download itself reports failures.
      }
    }, PROGRESS_POLL_MS);
    try {
      return await this.api.downloadYoutube(url, sessionId, downloadId, controller.signal);
    } catch (error) {
      if (error?.name === 'AbortError') throw error;
      const reason = error instanceof ApiError ? error.message : String(error);
      throw new ApiError(`The YouTube video could not be loaded: ${reason}`);
    } finally {
      clearInterval(poll);
      if (this.controller === controller) this.controller = null;
    }
  }

  cancel() {
    this.controller?.abort();
    this.controller = null;
  }
}
