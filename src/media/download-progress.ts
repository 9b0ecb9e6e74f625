/**
 * What the page (and the log) can see of downloads: one record per request, bounded in number;
 * finished records are dropped oldest first. Records are looked up by download id or session id,
 * never listed wholesale, so one client cannot see another's downloads.
 */

export type DownloadState = 'queued' | 'resolving' | 'downloading' | 'done' | 'failed';

export interface DownloadProgress {
  downloadId: string;
  videoId: string;
  sessionId: string | undefined;
  state: DownloadState;
  receivedBytes: number;
  /** Expected size, when the source declared one. */
  totalBytes: number | undefined;
  /** 0..100, when the total is known (100 once done). */
  percent: number | undefined;
  /** True when the video was served from the download cache. */
  fromCache: boolean;
  /** The error message of a failed download. */
  error: string | undefined;
  startedAtMs: number;
  updatedAtMs: number;
}

/** The part of a download shared by every request for the same video. */
export interface JobStatus {
  state: DownloadState;
  receivedBytes: number;
  totalBytes: number | undefined;
  error: string | undefined;
  updatedAtMs: number;
}

interface RequestRecord {
  downloadId: string;
  videoId: string;
  sessionId: string | undefined;
  fromCache: boolean;
  startedAtMs: number;
  job: JobStatus;
}

export class DownloadProgressRegistry {
  readonly #records = new Map<string, RequestRecord>();
  readonly #maxRecords: number;

  constructor(maxRecords = 256) {
    this.#maxRecords = maxRecords;
  }

  has(downloadId: string): boolean {
    return this.#records.has(downloadId);
  }

  add(record: RequestRecord): void {
    this.#records.set(record.downloadId, record);
    if (this.#records.size <= this.#maxRecords) return;
    for (const [id, existing] of this.#records) {
      if (this.#records.size <= this.#maxRecords) break;
      if (existing.job.state === 'done' || existing.job.state === 'failed') this.#records.delete(id);
    }
  }

  /** Records matching the download id and/or the session id (at least one must be given). */
  find(filter: { downloadId?: string; sessionId?: string }): DownloadProgress[] {
    if (filter.downloadId === undefined && filter.sessionId === undefined) return [];
    const out: DownloadProgress[] = [];
    for (const record of this.#records.values()) {
      if (filter.downloadId !== undefined && record.downloadId !== filter.downloadId) continue;
      if (filter.sessionId !== undefined && record.sessionId !== filter.sessionId) continue;
      out.push(toProgress(record));
    }
    return out;
  }
}

function toProgress(record: RequestRecord): DownloadProgress {
  const { job } = record;
  let percent: number | undefined;
  if (job.state === 'done') percent = 100;
  else if (job.totalBytes !== undefined && job.totalBytes > 0) {
    percent = Math.min(100, Math.floor((job.receivedBytes / job.totalBytes) * 1000) / 10);
  }
  return {
    downloadId: record.downloadId,
    videoId: record.videoId,
    sessionId: record.sessionId,
    state: job.state,
    receivedBytes: job.receivedBytes,
    totalBytes: job.totalBytes,
    percent,
    fromCache: record.fromCache,
    error: job.error,
    startedAtMs: record.startedAtMs,
    updatedAtMs: job.updatedAtMs,
  };
}
