/**
 * Body parsers and the one hook implementing the parameter rule of the original API: query
 * string first, then the JSON body (and, where a route allows it, a form body). The hook runs
 * before validation, so each route's zod `querystring` schema validates the merged parameters.
 */
import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import { bodyKindOf, mergeParams, type BodyKind } from '../protocol/merge-params.ts';
import { MultipartBody, parseMultipartFields } from '../protocol/multipart.ts';
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
  // Any other type: an empty body means "no body" (aiohttp's `session.post(url)` sends
  // `application/octet-stream` with Content-Length 0, as the original's client scripts do); a
  // non-empty one is refused before it is read.
  app.addContentTypeParser('*', (request, payload, done) => {
    const refuse = (): void =>
      done(new AppError('unsupportedMediaType', `Content-Type ${request.headers['content-type'] ?? '(none)'} is not accepted: send parameters in the query string, or a body of ${ACCEPTED_BODY_TYPES.join(', ')}`), undefined);
    const declared = request.headers['content-length'];
    if (declared !== undefined) {
      if (Number(declared) === 0) done(null, undefined);
      else refuse();
      return;
    }
    // Chunked: read only until the first byte shows it is not empty.
    let isSettled = false;
    const settle = (isEmpty: boolean): void => {
      if (isSettled) return;
      isSettled = true;
      if (isEmpty) done(null, undefined);
      else refuse();
    };
    payload.on('data', (chunk: Buffer) => {
      if (chunk.length === 0) return;
      payload.destroy();
      settle(false);
    });
    payload.once('end', () => settle(true));
  });
  // Kept raw here and parsed only by a route that reads form fields (mergeBodyParams); the only
  // multipart client is a sendBeacon FormData carrying a session id, hence the small limit.
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: MULTIPART_BODY_LIMIT }, (request, body, done) => {
    const buffer = typeof body === 'string' ? Buffer.from(body) : body;
    done(null, new MultipartBody(buffer, request.headers['content-type'] ?? ''));
  });
}

/** Body types a route may read. */
const ACCEPTED_BODY_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'];

/** Largest multipart body accepted (text fields only). */
export const MULTIPART_BODY_LIMIT = 64 * 1024;

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
    let body = request.body;
    if (body instanceof MultipartBody) {
      if (!bodyKinds.includes('form')) body = undefined;
      else {
        try {
          body = parseMultipartFields(body.raw, body.contentType);
        } catch (error) {
          done(new AppError('badRequest', `Malformed multipart body: ${error instanceof Error ? error.message : String(error)}`));
          return;
        }
      }
    }
    request.query = mergeParams(query, body, requestBodyKind(request), bodyKinds);
    done();
  };
}
