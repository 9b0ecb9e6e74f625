/**
 * The OpenAI-Realtime-compatible edge, where the official `openai` package's clients connect with
 * `baseURL` = this server + `/v1`: `GET /v1/realtime/translations?model=…` (translation sessions,
 * `OpenAIRealtimeTranslationWS`), `GET /v1/realtime?intent=transcription` (transcription sessions,
 * `OpenAIRealtimeWS`), and `POST /v1/realtime/translations/client_secrets`. The same session
 * manager, queue, limits, metrics and engine as /wss serve them: one session model, several edges.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { originPolicy } from '../plugins/origin-policy.ts';
import { transcriptionDialect, translationDialect, type RealtimeDialect } from '../protocol/realtime-dialects.ts';
import { REALTIME_INPUT_RATE_HZ } from '../protocol/realtime-events.ts';
import { outputLanguageOf, resolveLanguagePair } from '../protocol/realtime-model.ts';
import { RealtimeCredentials } from '../sessions/realtime-credentials.ts';
import { RealtimeConnection } from './realtime-connection.ts';
import { refuseSocket } from './stream-connection.ts';

/** How a browser, which cannot set headers on a WebSocket, passes its key: a subprotocol. */
const KEY_PROTOCOL_PREFIX = 'openai-insecure-api-key.';

function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim();
  const protocols = request.headers['sec-websocket-protocol'];
  const offered = typeof protocols === 'string' ? protocols.split(',').map((protocol) => protocol.trim()) : [];
  return offered.find((protocol) => protocol.startsWith(KEY_PROTOCOL_PREFIX))?.slice(KEY_PROTOCOL_PREFIX.length);
}

const translationQuery = z.object({ model: z.string().max(200).optional() });
const transcriptionQuery = z.object({ intent: z.string().max(50).optional(), model: z.string().max(200).optional() });

const secretRequest = z.object({
  session: z.object({
    model: z.string().min(1).max(200),
    type: z.literal('translation').optional(),
    audio: z.object({ output: z.object({ language: z.string().min(1).max(100).optional() }).optional() }).passthrough().optional(),
  }).passthrough(),
  expires_after: z.object({ anchor: z.literal('created_at').optional(), seconds: z.number().int().optional() }).optional(),
});

const secretReply = z.object({
  value: z.string(),
  expires_at: z.number(),
  session: z.object({
    id: z.string(),
    model: z.string(),
    type: z.literal('translation'),
    expires_at: z.number(),
    audio: z.object({ output: z.object({ language: z.string() }) }),
  }),
});

export const realtimeRoutes: FastifyPluginAsyncZod = async (app) => {
  const config = app.appConfig;
  const keys = [...config.realtime.apiKeys, ...(config.admin.token !== null ? [config.admin.token] : [])];
  const credentials = new RealtimeCredentials(keys, app.clock);
  const origins = originPolicy(config.cors.origins);
  const maxSessionSeconds = config.limits.maxSessionDurationMs > 0 ? Math.floor(config.limits.maxSessionDurationMs / 1000) : 24 * 3600;
  const servedPairs = () => app.engine.languagePairs().filter((info) => app.engine.isServed(info.languagePair));

  app.post('/v1/realtime/translations/client_secrets', {
    schema: { body: secretRequest, response: { 200: secretReply } },
  }, async (request) => {
    if (!credentials.isKey(presentedKey(request))) throw new AppError('unauthorized', 'an API key is required: send "Authorization: Bearer <key>" (realtime.apiKeys or admin.token)');
    const { session, expires_after: expiresAfter } = request.body;
    const resolution = resolveLanguagePair({ model: session.model, outputLanguage: session.audio?.output?.language }, servedPairs());
    if (resolution.kind === 'unknown') throw new AppError('unsupportedLanguagePair', resolution.reason);
    const secret = credentials.mint(expiresAfter?.seconds ?? 600);
    const language = resolution.kind === 'pair' ? outputLanguageOf(resolution.info.languagePair) : (session.audio?.output?.language ?? '');
    request.log.info({ expiresAt: secret.expiresAt }, 'realtime client secret minted');
    return {
      value: secret.value,
      expires_at: secret.expiresAt,
      session: { id: '', model: session.model, type: 'translation' as const, expires_at: secret.expiresAt, audio: { output: { language } } },
    };
  });

  const serveRealtime = (socket: WebSocket, request: FastifyRequest, dialect: RealtimeDialect, model: string | undefined): void => {
    // Without keys, browsers from other sites are held to the same Origin rule as /wss.
    if (credentials.isOpen && !origins.allows(request.headers.origin, request.headers.host)) {
      refuseSocket(socket, { code: 1008, reason: 'Origin not allowed' });
      return;
    }
    const connection = new RealtimeConnection(socket, {
      dialect,
      sessions: app.sessions,
      servedPairs,
      log: request.log,
      clientAddress: request.ip,
      // An append of the largest audio frame /wss accepts: 24 kHz PCM16 in base64, plus the JSON around it.
      maxEventBytes: Math.ceil((config.websocket.maxFrameSamples * REALTIME_INPUT_RATE_HZ) / 16_000) * 2 * (4 / 3) + 1024,
      lagIntervalMs: config.websocket.lagIntervalMs,
      maxSessionSeconds,
    }, model);
    socket.on('message', (data, isBinary) => connection.onMessage(data, isBinary));
    socket.on('pong', () => connection.onPong());
    socket.on('close', () => connection.onSocketClosed());
    socket.on('error', (error) => request.log.debug({ err: error }, 'realtime socket error'));
    if (!app.sessions.admitting) {
      refuseSocket(socket, { code: 1001, reason: 'Server shutting down' });
      return;
    }
    connection.open();
  };

  // Refused before the upgrade, with an HTTP status a client can read.
  const admit = async (request: FastifyRequest): Promise<void> => {
    if (!credentials.admit(presentedKey(request))) {
      throw new AppError('unauthorized', 'an API key or client secret is required: "Authorization: Bearer <key>" (or the openai-insecure-api-key.<key> subprotocol)');
    }
  };

  app.get('/v1/realtime/translations', { websocket: true, schema: { querystring: translationQuery }, onRequest: admit }, (socket, request) => {
    serveRealtime(socket, request, translationDialect, request.query.model);
  });

  // The Realtime API's transcription sessions; its conversation sessions (?model=…) are not served.
  app.get('/v1/realtime', {
    websocket: true,
    schema: { querystring: transcriptionQuery },
    // The intent first: a refused request must not use up a client secret.
    onRequest: [async (request) => {
      if (request.query.intent !== 'transcription') {
        throw new AppError('validationFailed', 'this server serves transcription sessions here (?intent=transcription, the translation as the transcript) and translation sessions at /v1/realtime/translations; conversation sessions are not served');
      }
    }, admit],
  }, (socket, request) => {
    serveRealtime(socket, request, transcriptionDialect, undefined);
  });
};
