/**
 * Errors as they cross between the main thread and a worker: a catalogue code and a message, so
 * that a failure inside a worker reaches the client with the same code it would have had here.
 */
import { AppError, errorCatalogue, isAppError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';

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
