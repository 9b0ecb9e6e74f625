/**
 * The HTTP half of the one error path: validation errors → 422 with a readable message and
 * FastAPI's `detail`; AppError → catalogue status and `{success:false, error, code}`; Fastify's
 * own 4xx (bad media type, body too large) keep their status; anything else → 500 with the
 * details logged, not shown. Unknown routes → 404 JSON. 429 and 503 replies carry Retry-After
 * (the error's own `retryAfterSeconds` detail, else the configured default), so that clients and
 * nginx back off instead of hammering an overloaded server.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, isAppError } from '../errors.ts';
import { encodeHttpError, encodeValidationError, type ValidationIssue } from '../protocol/error-reply.ts';

function validationIssues(error: FastifyError): ValidationIssue[] {
  const location = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'request');
  if (!hasZodFastifySchemaValidationErrors(error)) {
    return [{ location, path: [], message: error.message || 'invalid value', type: 'value_error' }];
  }
  return error.validation.map((issue) => {
    const path = issue.instancePath.split('/').filter((part) => part !== '');
    const message = issue.message ?? 'invalid value';
    const isMissing = issue.keyword === 'invalid_type' && /received undefined/.test(message);
    return { location, path, message: isMissing ? 'field required' : message, type: isMissing ? 'missing' : issue.keyword };
  });
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error;
}

/** The 4xx status a library error asks for (Fastify's `statusCode`, http-errors' `status`), if any. */
function clientErrorStatusOf(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const { statusCode, status } = error as { statusCode?: unknown; status?: unknown };
  const candidate = typeof statusCode === 'number' ? statusCode : status;
  return typeof candidate === 'number' && candidate >= 400 && candidate < 500 ? candidate : undefined;
}

function retryAfterOf(error: AppError, fallbackSeconds: number): number {
  const value = error.details?.retryAfterSeconds;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : fallbackSeconds;
}

export interface ErrorHandlerOptions {
  /** Retry-After on 429/503 replies whose error does not say (default 5). */
  retryAfterSeconds?: number;
}

/** Installs the error and not-found handlers on `app` (call before registering routes). */
export function installErrorHandlers(app: FastifyInstance, options: ErrorHandlerOptions = {}): void {
  const fallbackRetryAfter = options.retryAfterSeconds ?? 5;
  app.setErrorHandler((error: unknown, request, reply) => {
    if (isFastifyError(error) && error.validation) {
      const { status, body } = encodeValidationError(validationIssues(error));
      return reply.code(status).type('application/json').send(body);
    }
    if (isAppError(error)) {
      if (error.status >= 500 && error.status !== 503) request.log.error({ err: error, code: error.code }, 'request failed');
      else if (error.status === 503 || error.status === 429) request.log.warn({ code: error.code }, 'request refused: overloaded or limited');
      const { status, body } = encodeHttpError(error);
      if (status === 429 || status === 503) reply.header('Retry-After', String(retryAfterOf(error, fallbackRetryAfter)));
      return reply.code(status).type('application/json').send(body);
    }
    const statusCode = clientErrorStatusOf(error);
    if (statusCode !== undefined && error instanceof Error) {
      // http-errors style errors (e.g. @fastify/send's 416) carry the headers their status needs.
      const headers = (error as { headers?: unknown }).headers;
      if (headers && typeof headers === 'object') reply.headers(headers as Record<string, string>);
      return reply.code(statusCode).type('application/json').send({ success: false, error: error.message, code: isFastifyError(error) ? error.code : 'badRequest' });
    }
    request.log.error({ err: error }, 'unhandled error');
    const { status, body } = encodeHttpError(new AppError('internal'));
    return reply.code(status).type('application/json').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).type('application/json').send({ success: false, error: 'Not Found', code: 'notFound', detail: 'Not Found', path: request.url.split('?')[0] });
  });
}
