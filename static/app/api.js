/**
 * The server's public HTTP API, as the page uses it. Every call either resolves with the parsed
 * reply or rejects with an ApiError whose message a person can read; `isSessionGone` tells the
 * caller that the server no longer has the session.
 */
import { isSessionGoneMessage } from './protocol.js';

export class ApiError extends Error {
  /** @param {string} message @param {{ status?: number, code?: string, isSessionGone?: boolean, isNetwork?: boolean }} [info] */
  constructor(message, info = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = info.status ?? 0;
    this.code = info.code ?? '';
    this.isSessionGone = info.isSessionGone ?? false;
    this.isNetwork = info.isNetwork ?? false;
  }
}

function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null) query.set(key, String(value));
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function request(method, url, { signal } = {}) {
  let response;
  try {
    response = await fetch(url, { method, signal, headers: { Accept: 'application/json' } });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError('Cannot reach the translation server. Check your network connection; the page keeps trying.', { isNetwork: true });
  }
  return response;
}

async function readJson(response) {
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('application/json')) {
    if (response.status === 503) throw new ApiError('The server is busy right now; trying again shortly.', { status: 503 });
    throw new ApiError(`The server answered unexpectedly (HTTP ${response.status}).`, { status: response.status });
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError('The server sent a reply the page could not read.', { status: response.status });
  }
  return body;
}

/** Throws for an application error body ({success:false, error|message}) or a non-2xx status. */
function checked(body, status) {
  const isFailure = body === null || typeof body !== 'object' || body.success === false || status >= 400;
  if (!isFailure) return body;
  const text = (body && (body.error || body.message || body.detail)) || `Request failed (HTTP ${status}).`;
  const message = typeof text === 'string' ? text : JSON.stringify(text);
  throw new ApiError(message, { status, code: body?.code, isSessionGone: isSessionGoneMessage(message) });
}

async function call(method, url, options) {
  const response = await request(method, url, options);
  return checked(await readJson(response), response.status);
}

export const api = {
  /** GET /health: status, served language pairs, sessions. */
  health: () => call('GET', '/health'),

  /** POST /init → { session_id, queued, queue_position, latency_multiplier, ... } */
  init: ({ languagePair, latencyMultiplier, clientId }) =>
    call('POST', withQuery('/init', { agent_type: 'InfiniSST', language_pair: languagePair, latency_multiplier: latencyMultiplier, client_id: clientId })),

  /** GET /queue_status/{id} → { status: 'active'|'initializing'|'queued', queue_position } */
  async queueStatus(sessionId) {
    const response = await request('GET', `/queue_status/${encodeURIComponent(sessionId)}`);
    const body = await readJson(response);
    if (body?.status === 'not_found') throw new ApiError(body.error || 'Session not found', { status: response.status, isSessionGone: true });
    return checked(body, response.status);
  },

  ping: (sessionId) => call('POST', withQuery('/ping', { session_id: sessionId })),

  updateLatency: (sessionId, latencyMultiplier) =>
    call('POST', withQuery('/update_latency', { session_id: sessionId, latency_multiplier: latencyMultiplier })),

  reset: (sessionId) => call('POST', withQuery('/reset_translation', { session_id: sessionId })),

  deleteSession: (sessionId) => call('POST', withQuery('/delete_session', { session_id: sessionId })),

  /** Fire-and-forget delete that survives the page closing (form body, as the server accepts). */
  deleteOnUnload(sessionId) {
    const body = new URLSearchParams({ session_id: sessionId });
    if (navigator.sendBeacon?.('/delete_session', body)) return;
    fetch('/delete_session', { method: 'POST', body, keepalive: true }).catch(() => {});
  },

  /**
   * POST /download_youtube → the video as a Blob. The server answers failures with JSON
   * {"error": ...} (HTTP 200); that text is thrown as an ApiError.
   */
  async downloadYoutube(url, sessionId, downloadId, signal) {
    const response = await request('POST', withQuery('/download_youtube', { url, session_id: sessionId, download_id: downloadId }), { signal });
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('application/json')) {
      const body = await readJson(response);
      throw new ApiError(body?.error || body?.message || 'The video could not be downloaded.', { status: response.status });
    }
    if (!response.ok) throw new ApiError(`The video could not be downloaded (HTTP ${response.status}).`, { status: response.status });
    const blob = await response.blob();
    if (!/^(video|audio)\//.test(blob.type)) throw new ApiError(`The server sent ${blob.type || 'an unknown kind of file'} instead of a video.`);
    return blob;
  },

  /** GET /download_youtube/progress → { downloads: [{ percent, received_bytes, state }] } */
  youtubeProgress: (downloadId) => call('GET', withQuery('/download_youtube/progress', { download_id: downloadId })),

  /** GET /test_video/{name} as a Blob (test mode). */
  async testVideo(name) {
    const response = await request('GET', `/test_video/${encodeURIComponent(name)}`);
    if (!response.ok) {
      let detail = '';
      try {
        detail = (await response.json())?.detail ?? '';
      } catch {
        // not JSON: keep the status line only
      }
      throw new ApiError(`The test video is not available on this server${detail ? `: ${detail}` : ` (HTTP ${response.status})`}.`, { status: response.status });
    }
    return response.blob();
  },
};
