/**
 * What crosses between the main thread and a worker that hosts sessions (engine/resident-worker.ts
 * ↔ worker/worker-main.ts). Per chunk: its audio in, its tokens and text out. Per decode step:
 * nothing but a small batch observation. A session's caches never cross.
 */
import type { BatchSettings } from '../batching/batch-settings.ts';
import type { PhaseStats } from './translation-engine.ts';
import type { WireError, WorkerReadyInfo } from './worker-protocol.ts';

/** Faults a worker can be told to inject: crash or hang the thread at its next batch, or fail one session's row. */
export type ResidentFault = 'crash' | 'hang' | 'row';

/**
 * A chunk names its model and pair, so whichever worker receives a session's chunk hosts it from
 * then on (a session moved after a crash starts there with a fresh context).
 */
export type ToResidentWorker =
  | { kind: 'chunk'; stream: string; seq: number; model: string; languagePair: string; audio: Float32Array; multiplier: number }
  | { kind: 'reset'; stream: string }
  | { kind: 'close'; stream: string }
  | { kind: 'configure'; batching: BatchSettings }
  | { kind: 'fault'; fault: ResidentFault; model?: string; stream?: string };

/** One batch a worker ran, for metrics and the benchmark. */
export interface StepObservation {
  model: string;
  phase: 'prefill' | 'decode';
  items: number;
  rows: number;
  waitsMs: number[];
  computeMs: number;
  attendedSlots: number;
  cacheBytesCopied: number;
  /** Items whose rows failed (the others of the batch were rerun alone and succeeded). */
  failedItems: number;
}

export interface ChunkDone {
  tokens: number[];
  text: string;
  /** Decoder context the session holds after the chunk (tokens). */
  contextTokens: number;
  /** Bytes of the session's caches after the chunk. */
  stateBytes: number;
}

export type FromResidentWorker =
  | { kind: 'ready'; info: WorkerReadyInfo }
  | { kind: 'init-failed'; error: WireError }
  | ({ kind: 'chunkDone'; stream: string; seq: number } & ChunkDone)
  | { kind: 'chunkFailed'; stream: string; seq: number; error: WireError }
  | { kind: 'batch'; observation: StepObservation }
  /** The batch queues of one model, sent after batches and before chunk results. */
  | { kind: 'stats'; model: string; stats: Record<string, PhaseStats> };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Checks the discriminant and the fields the main thread relies on; null for anything else. */
export function parseFromResidentWorker(message: unknown): FromResidentWorker | null {
  if (!isRecord(message) || typeof message.kind !== 'string') return null;
  const hasChunkId = typeof message.stream === 'string' && typeof message.seq === 'number';
  switch (message.kind) {
    case 'ready':
      return isRecord(message.info) && typeof message.info.provider === 'string' && typeof message.info.device === 'string' ? (message as FromResidentWorker) : null;
    case 'init-failed':
    case 'chunkFailed':
      return isRecord(message.error) && typeof message.error.code === 'string' && typeof message.error.message === 'string' && (message.kind === 'init-failed' || hasChunkId)
        ? (message as FromResidentWorker)
        : null;
    case 'chunkDone':
      return hasChunkId && Array.isArray(message.tokens) && typeof message.text === 'string' && typeof message.contextTokens === 'number' ? (message as FromResidentWorker) : null;
    case 'batch':
      return isRecord(message.observation) ? (message as FromResidentWorker) : null;
    case 'stats':
      return typeof message.model === 'string' && isRecord(message.stats) ? (message as FromResidentWorker) : null;
    default:
      return null;
  }
}

/** Checks a message the worker received; null for anything malformed. */
export function parseToResidentWorker(message: unknown): ToResidentWorker | null {
  if (!isRecord(message) || typeof message.kind !== 'string') return null;
  const hasStream = typeof message.stream === 'string';
  switch (message.kind) {
    case 'chunk':
      return hasStream && typeof message.seq === 'number' && typeof message.model === 'string' && typeof message.languagePair === 'string' &&
        message.audio instanceof Float32Array && typeof message.multiplier === 'number'
        ? (message as ToResidentWorker)
        : null;
    case 'reset':
    case 'close':
      return hasStream ? (message as ToResidentWorker) : null;
    case 'configure':
      return isRecord(message.batching) ? (message as ToResidentWorker) : null;
    case 'fault':
      return message.fault === 'crash' || message.fault === 'hang' || message.fault === 'row' ? (message as ToResidentWorker) : null;
    default:
      return null;
  }
}
