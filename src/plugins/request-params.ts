/**
 * Body parsers and the one hook implementing the parameter rule of the original API: query
 * string first, then the JSON body (and, where a route allows it, a form body). The hook runs
 * before validation, so each route's zod `querystring` schema validates the merged parameters.
 */
import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import { bodyKindOf, mergeParams, type BodyKind } from '../protocol/merge-params.ts';
import { parseMultipartFields } from '../protocol/multipart.ts';
import { parseQueryString } from '../protocol/query-string.ts';
import { AppError } from '../errors.ts';

/**
 * Replaces Fastify's JSON parser with one that treats an empty body as absent (clients POST with
 * `Content-Type: application/json` and no body), and adds urlencoded and multipart form parsers.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    defaultJson(request, text, (error, value) => {
      if (error) done(new AppError('badRequest', `Request body is not valid JSON: ${error.message}`), undefined);
      else done(null, value);
    });
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseQueryString(typeof body === 'string' ? body : body.toString('utf8')));
  });
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      const buffer = typeof body === 'string' ? Buffer.from(body) : body;
      done(null, parseMultipartFields(buffer, request.headers['content-type'] ?? ''));
    } catch (error) {
      done(new AppError('badRequest', `Malformed multipart body: ${error instanceof Error ? error.message : String(error)}`), undefined);
    }
  });
}

function requestBodyKind(request: FastifyRequest): BodyKind {
  return bodyKindOf(request.headers['content-type'], request.body !== undefined && request.body !== null);
}

/**
 * preValidation hook: `request.query` becomes query ∪ body fields (query wins). `bodyKinds`
 * lists which bodies this route reads; JSON for every route, form for /delete_session.
 */
export function mergeBodyParams(bodyKinds: readonly BodyKind[] = ['json']): preValidationHookHandler {
  return function mergeBodyIntoQuery(request, _reply, done) {
    const query = (request.query ?? {}) as Record<string, unknown>;
    request.query = mergeParams(query, request.body, requestBodyKind(request), bodyKinds);
    done();
  };
}
