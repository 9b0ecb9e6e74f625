/**
 * The error catalogue: every failure the domain reports has a stable code, an HTTP status for the
 * edge and a message safe to show a client. Domain code throws `AppError`; the HTTP and WebSocket
 * edges encode it once each. No Fastify import here.
 */
export const errorCatalogue = {
  invalidSession: { status: 200, message: 'Invalid session ID' },
  sessionNotFound: { status: 200, message: 'Session not found' },
  badRequest: { status: 400, message: 'Bad request' },
  unsupportedMediaType: { status: 415, message: 'Unsupported Content-Type' },
  unsupportedLanguagePair: { status: 400, message: 'Unsupported language pair' },
  badAudioFrame: { status: 400, message: 'Malformed audio frame' },
  frameTooLarge: { status: 413, message: 'Audio frame too large' },
  overloaded: { status: 503, message: 'Server overloaded, try again later' },
  capacityReached: { status: 503, message: 'No capacity for new sessions' },
  deadlineExceeded: { status: 504, message: 'Inference deadline exceeded' },
  workerFailed: { status: 500, message: 'Inference worker failed' },
  modelInvalid: { status: 500, message: 'Model package is invalid' },
  engineClosed: { status: 503, message: 'Engine is shutting down' },
  chunkCancelled: { status: 409, message: 'The chunk was cancelled by a reset, a latency change or close' },
  forbiddenPath: { status: 400, message: 'Path not allowed' },
  notFound: { status: 404, message: 'Not found' },
  unauthorized: { status: 401, message: 'Admin token required' },
  exportQuotaExceeded: { status: 507, message: 'The export folder is full' },
  originNotAllowed: { status: 403, message: 'Requests from this web origin are not allowed (see cors.origins)' },
  internal: { status: 500, message: 'Internal server error' },
  downloadFailed: { status: 502, message: 'Download failed' },
  mediaTooLarge: { status: 413, message: 'Media exceeds the size limit' },
  mediaTooLong: { status: 413, message: 'Media exceeds the duration limit' },
  downloadTimeout: { status: 504, message: 'Download timed out' },
  decodeFailed: { status: 422, message: 'Media could not be decoded' },
  validationFailed: { status: 422, message: 'Request validation failed' },
  shuttingDown: { status: 503, message: 'Server is shutting down' },
  modelTooLarge: { status: 500, message: 'Model does not fit the device memory' },
  rateLimited: { status: 429, message: 'Too many requests, try again later' },
  tooManySessions: { status: 429, message: 'Too many sessions for this client' },
  wrongInstance: { status: 404, message: 'Invalid session ID' },
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra machine-readable context; never contains speech content. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? errorCatalogue[code].message, { cause: options?.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.details = options?.details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
