/**
 * The typed protocol between the worker pool (main thread) and an inference worker, and the
 * worker-side helper that speaks it. Messages are discriminated unions carrying a request id and
 * an absolute deadline; buffers cross as transfer lists, never copies (house style §8).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError, errorCatalogue, isAppError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';

/** Main thread → worker. `deadlineAt` is epoch ms (`Date.now()`): threads share the wall clock but not `performance.now()`'s origin. */
export type ToWorker<Req> = { kind: 'run'; id: number; deadlineAt: number; payload: Req };

/** Worker → main thread. */
export type FromWorker<Res> =
  | { kind: 'ready'; info: WorkerReadyInfo }
  | { kind: 'init-failed'; error: WireError }
  | { kind: 'result'; id: number; payload: Res }
  | { kind: 'failure'; id: number; error: WireError };

/** What a worker reports once its init finished: where it actually runs. */
export interface WorkerReadyInfo {
  provider: string;
  device: string;
  detail?: Record<string, unknown>;
}

/** An error as it crosses the thread boundary: a catalogue code (or another string) and a message. */
export interface WireError {
  code: string;
  message: string;
}

/** Per-request context handed to a worker's handler. */
export interface RequestContext {
  id: number;
  /** Epoch ms after which the pool has given up on this request (and will terminate the worker). */
  deadlineAt: number;
}

/** Result of one handled request: the reply and the buffers to transfer with it. */
export interface HandledRequest<Res> {
  result: Res;
  transfer?: Transferable[];
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function parseWireError(value: unknown): WireError | null {
  if (!isRecord(value) || typeof value.code !== 'string' || typeof value.message !== 'string') return null;
  return { code: value.code, message: value.message };
}

/** Encodes any thrown value for the wire; `AppError`s keep their code, anything else becomes `fallbackCode`. */
export function toWireError(error: unknown, fallbackCode: ErrorCode = 'workerFailed'): WireError {
  if (isAppError(error)) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: fallbackCode, message: error.message };
  return { code: fallbackCode, message: String(error) };
}

/** Decodes a wire error into an `AppError`; unknown codes become `workerFailed`. */
export function fromWireError(error: WireError, prefix?: string): AppError {
  const code: ErrorCode = error.code in errorCatalogue ? (error.code as ErrorCode) : 'workerFailed';
  const message = prefix ? `${prefix}: ${error.message}` : error.message;
  return new AppError(code, message, { details: { workerErrorCode: error.code } });
}

/** Validates a message received from a worker; the payload stays `unknown` for the caller to own. Returns null if malformed. */
export function parseFromWorker(message: unknown): FromWorker<unknown> | null {
  if (!isRecord(message)) return null;
  switch (message.kind) {
    case 'ready': {
      const info = message.info;
      if (!isRecord(info) || typeof info.provider !== 'string' || typeof info.device !== 'string') return null;
      const detail = isRecord(info.detail) ? info.detail : undefined;
      return { kind: 'ready', info: { provider: info.provider, device: info.device, ...(detail ? { detail } : {}) } };
    }
    case 'init-failed': {
      const error = parseWireError(message.error);
      return error ? { kind: 'init-failed', error } : null;
    }
    case 'result':
      return typeof message.id === 'number' ? { kind: 'result', id: message.id, payload: message.payload } : null;
    case 'failure': {
      const error = parseWireError(message.error);
      return typeof message.id === 'number' && error ? { kind: 'failure', id: message.id, error } : null;
    }
    default:
      return null;
  }
}

/** Validates a message received by a worker. Returns null if malformed. */
export function parseToWorker(message: unknown): ToWorker<unknown> | null {
  if (!isRecord(message) || message.kind !== 'run') return null;
  if (typeof message.id !== 'number' || typeof message.deadlineAt !== 'number') return null;
  return { kind: 'run', id: message.id, deadlineAt: message.deadlineAt, payload: message.payload };
}

/**
 * Called by a worker script: runs `init(workerData)`, reports 'ready' (or 'init-failed'), then
 * serves requests one at a time in arrival order. A handler that throws answers 'failure' and the
 * worker keeps serving; only an uncaught error or exit kills it. Throws if not inside a worker thread.
 */
export function serveWorker<Req, Res>(
  init: (workerData: unknown) => Promise<WorkerReadyInfo>,
  handle: (req: Req, context: RequestContext) => Promise<HandledRequest<Res>>,
): void {
  const port = parentPort;
  if (!port) throw new Error('serveWorker must be called inside a worker thread');

  const send = (message: FromWorker<Res>, transfer?: Transferable[]): void => {
    // The pool owns the transfer list's element types; node's typings want its narrower union.
    port.postMessage(message, transfer as Parameters<typeof port.postMessage>[1]);
  };

  let isReady = false;
  // Requests are chained so a worker never runs two at once, even if the pool misbehaves.
  let chain: Promise<void> = init(workerData).then(
    (info) => {
      isReady = true;
      send({ kind: 'ready', info });
    },
    (error: unknown) => send({ kind: 'init-failed', error: toWireError(error, 'workerFailed') }),
  );

  const serveOne = async (request: ToWorker<unknown>): Promise<void> => {
    if (!isReady) {
      send({ kind: 'failure', id: request.id, error: { code: 'workerFailed', message: 'worker is not initialised' } });
      return;
    }
    if (Date.now() > request.deadlineAt) {
      // The pool has already failed this request; computing it would only delay the next one.
      send({ kind: 'failure', id: request.id, error: { code: 'deadlineExceeded', message: 'request expired before it started' } });
      return;
    }
    try {
      const { result, transfer } = await handle(request.payload as Req, { id: request.id, deadlineAt: request.deadlineAt });
      send({ kind: 'result', id: request.id, payload: result }, transfer);
    } catch (error) {
      // Covers handler errors and a reply that cannot be cloned (postMessage throws synchronously).
      send({ kind: 'failure', id: request.id, error: toWireError(error, 'workerFailed') });
    }
  };

  port.on('message', (message: unknown) => {
    const request = parseToWorker(message);
    if (!request) return; // Not ours; nothing to answer to.
    chain = chain.then(() => serveOne(request));
  });
}
