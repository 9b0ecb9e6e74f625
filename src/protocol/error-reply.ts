/**
 * The one encoding of errors at the edge: an `AppError` becomes an HTTP status + JSON body, or an
 * `ERROR:` WebSocket frame. Messages of 5xx errors other than catalogue ones stay in the logs.
 */
import { AppError, isAppError } from '../errors.ts';
import { serverFrames } from './ws-frames.ts';

export interface ErrorBody {
  success: false;
  error: string;
  code: string;
  [extra: string]: unknown;
}

export interface ValidationIssue {
  /** "query", "body", "params"… (FastAPI's `loc` head). */
  location: string;
  path: readonly (string | number)[];
  message: string;
  type: string;
}

/** Any thrown value as an AppError; unknown errors become `internal` (details kept as cause). */
export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  return new AppError('internal', undefined, { cause: error });
}

/** HTTP status and body for an application error. */
export function encodeHttpError(error: AppError): { status: number; body: ErrorBody } {
  return { status: error.status, body: { success: false, error: error.message, code: error.code } };
}

/**
 * 422 body for invalid parameters: one readable `error` line plus FastAPI's `detail` list, which
 * clients written against the original may parse.
 */
export function encodeValidationError(issues: readonly ValidationIssue[]): { status: number; body: ErrorBody } {
  const lines = issues.map((issue) => {
    const name = issue.path.length > 0 ? issue.path.join('.') : issue.location;
    return `${name}: ${issue.message}`;
  });
  return {
    status: 422,
    body: {
      success: false,
      error: `Invalid request parameters (query string or JSON body): ${lines.join('; ')}`,
      code: 'validationFailed',
      detail: issues.map((issue) => ({ loc: [issue.location, ...issue.path], msg: issue.message, type: issue.type })),
    },
  };
}

/** The `ERROR:` frame for a failure on a socket. */
export function encodeWsError(error: AppError): string {
  return serverFrames.error(error.message);
}
