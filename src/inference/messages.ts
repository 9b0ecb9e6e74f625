/**
 * What crosses between the main thread and a worker that hosts sessions (engine/resident-worker.ts
 * ↔ worker/worker-main.ts). Per chunk: its audio in, its tokens and text out. Per decode step:
 * nothing but a small batch observation. A session's caches never cross.
 */
import type { BatchSettings } from '../batching/batch-settings.ts';
import type { PhaseStats } from './translation-engine.ts';
import type { WireError, WorkerReadyInfo } from './wire-errors.ts';

/** Faults a worker can be told to inject: crash or hang the thread at its next batch, or fail one session's row. */
export type WorkerFault = 'crash' | 'hang' | 'row';

/**
 * A chunk names its model and pair, so whichever worker receives a session's chunk hosts it from
 * then on (a session moved after a crash starts there with a fresh context).
 */
export type ToWorker =
  | { kind: 'chunk'; stream: string; seq: number; model: string; languagePair: string; audio: Float32Array; multiplier: number }
  | { kind: 'reset'; stream: string }
  | { kind: 'close'; stream: string }
  | { kind: 'configure'; batching: BatchSettings }
  | { kind: 'fault'; fault: WorkerFault; model?: string; stream?: string };

/** One batch a worker ran, for metrics and the benchmark. */
export interface StepObservation {
  model: string;
  phase: 'prefill' | 'decode';
  items: number;
  /** Model rows: one per item in prefill, one per live beam in decode. */
  rows: number;
  /** Each item's wait in the queue before the batch started. */
  waitsMs: number[];
  /** The worker's time on the batch. */
  computeMs: number;
  /** Decode only: cache slots the rows attend to, their own new token included (0 in prefill). */
  attendedSlots: number;
  /** Cache bytes copied to build and unpack the batch's tensors. */
  cacheBytesCopied: number;
  /** Rows the graph computed: in decode, `rows` plus finished beams and slot-range holes computed for nothing (a rerun after a failure counts again). */
  computedRows: number;
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

export type FromWorker =
  | { kind: 'ready'; info: WorkerReadyInfo }
  | { kind: 'init-failed'; error: WireError }
  | ({ kind: 'chunkDone'; stream: string; seq: number } & ChunkDone)
  | { kind: 'chunkFailed'; stream: string; seq: number; error: WireError }
  | { kind: 'batch'; observation: StepObservation }
  /** The batch queues of one model, sent after batches and before chunk results. */
  | { kind: 'stats'; model: string; stats: Record<string, PhaseStats> };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Checks the discriminant and the fields the main thread relies on; null for anything else. */
export function parseFromWorker(message: unknown): FromWorker | null {
  if (!isRecord(message) || typeof message.kind !== 'string') return null;
  const hasChunkId = typeof message.stream === 'string' && typeof message.seq === 'number';
  switch (message.kind) {
    case 'ready':
      return isRecord(message.info) && typeof message.info.provider === 'string' && typeof message.info.device === 'string' ? (message as FromWorker) : null;
    case 'init-failed':
    case 'chunkFailed':
      return isRecord(message.error) && typeof message.error.code === 'string' && typeof message.error.message === 'string' && (message.kind === 'init-failed' || hasChunkId)
        ? (message as FromWorker)
        : null;
    case 'chunkDone':
      return hasChunkId && Array.isArray(message.tokens) && typeof message.text === 'string' && typeof message.contextTokens === 'number' ? (message as FromWorker) : null;
    case 'batch':
      return isRecord(message.observation) ? (message as FromWorker) : null;
    case 'stats':
      return typeof message.model === 'string' && isRecord(message.stats) ? (message as FromWorker) : null;
    default:
      return null;
  }
}

/** Checks a message the worker received; null for anything malformed. */
export function parseToWorker(message: unknown): ToWorker | null {
  if (!isRecord(message) || typeof message.kind !== 'string') return null;
  const hasStream = typeof message.stream === 'string';
  switch (message.kind) {
    case 'chunk':
      return hasStream && typeof message.seq === 'number' && typeof message.model === 'string' && typeof message.languagePair === 'string' &&
        message.audio instanceof Float32Array && typeof message.multiplier === 'number'
        ? (message as ToWorker)
        : null;
    case 'reset':
    case 'close':
      return hasStream ? (message as ToWorker) : null;
    case 'configure':
      return isRecord(message.batching) ? (message as ToWorker) : null;
    case 'fault':
      return message.fault === 'crash' || message.fault === 'hang' || message.fault === 'row' ? (message as ToWorker) : null;
    default:
      return null;
  }
}

/**
 * Bytes a message carries between threads: every distinct ArrayBuffer once, whole (transferred or
 * cloned, the whole buffer crosses), 8 per number, 2 per string code unit, 1 per boolean; keys and
 * structure are not counted. The benchmark's `bytesPerDecodeStep` is built from it.
 */
export function messageBytes(message: unknown): number {
  const buffers = new Set<ArrayBufferLike>();
  let bytes = 0;
  const visit = (value: unknown): void => {
    if (typeof value === 'number') bytes += 8;
    else if (typeof value === 'string') bytes += 2 * value.length;
    else if (typeof value === 'boolean') bytes += 1;
    else if (ArrayBuffer.isView(value)) buffers.add(value.buffer);
    else if (value instanceof ArrayBuffer) buffers.add(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(visit);
  };
  visit(message);
  for (const buffer of buffers) bytes += buffer.byteLength;
  return bytes;
}
