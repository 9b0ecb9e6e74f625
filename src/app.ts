/**
 * buildApp(config, deps) → a Fastify instance with every plugin and route registered in one
 * explicit order. It never listens; the process entry (server.ts) and tests do that, tests with
 * injected dependencies (a test engine, a manual clock) instead of test-only flags.
 */
import { resolve } from 'node:path';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/schema.ts';
import type { TranslationEngine } from './inference/translation-engine.ts';
import type { YoutubeDownloader } from './media/youtube-downloader.ts';
import { installAdminGuard } from './plugins/admin-auth.ts';
import domain from './plugins/domain.ts';
import { installErrorHandlers } from './plugins/error-handler.ts';
import { installInstanceRouting } from './plugins/instance-routing.ts';
import metricsPlugin from './plugins/metrics.ts';
import { installRateLimits } from './plugins/rate-limit.ts';
import { installAdmissionGuard } from './plugins/readiness.ts';
import { ServerMetrics } from './plugins/server-metrics.ts';
import { registerBodyParsers } from './plugins/request-params.ts';
import { startWebSocketHeartbeat } from './plugins/ws-heartbeat.ts';
import { parseQueryString } from './protocol/query-string.ts';
import { clusterRoutes } from './routes/cluster.ts';
import { debugRoutes } from './routes/debug.ts';
import { capConnectionsPerAddress, timeOutStalledBodies } from './plugins/connection-limits.ts';
import { originPolicy, refuseForeignWrites } from './plugins/origin-policy.ts';
import { refuseAdmissionUnderPressure } from './plugins/pressure.ts';
import { logRequestsOnce } from './plugins/request-log.ts';
import { evaluationRoutes } from './routes/evaluation.ts';
import { healthRoutes } from './routes/health.ts';
import { mediaRoutes } from './routes/media.ts';
import { opsRoutes } from './routes/ops.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { staticRoutes } from './routes/static.ts';
import { streamRoutes } from './routes/stream.ts';
import { realtimeRoutes } from './routes/realtime.ts';
import { systemClock, type Clock } from './sessions/clock.ts';
import fastifySwagger from '@fastify/swagger';
import { buildInfo } from './build-info.ts';

export interface AppDeps {
  engine: TranslationEngine;
  clock?: Clock;
  /** Process logger; absent = logging off (tests). */
  logger?: Logger;
  /** The YouTube downloader; absent = /download_youtube answers that downloads are disabled. */
  youtubeDownloader?: Pick<YoutubeDownloader, 'download' | 'progress'>;
  /** Working directory against which relative config paths resolve (default process.cwd()). */
  cwd?: string;
  /** Start the idle-sweep and WebSocket ping timers (default true; tests may drive sweeps themselves). */
  runTimers?: boolean;
  /** The window of the per-address rate limits (default one minute; tests shorten it). */
  rateWindowMs?: number;
  /** PEM certificate and key: the app then speaks https and wss (server.tlsCertFile/tlsKeyFile, read by the caller). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/**
 * Hard cap of the WebSocket layer, which buffers a whole frame before anyone sees it: twice the
 * largest valid audio frame. Frames between the configured limit and this get an ERROR frame and
 * the stream goes on; larger ones close the socket (1009) instead of costing megabytes each.
 */
function wsMaxPayloadBytes(maxFrameSamples: number): number {
  return 2 * maxFrameSamples * Float32Array.BYTES_PER_ELEMENT + 1024;
}

/** Builds the app (not listening). Throws if a plugin fails to register. */
export async function buildApp(config: ServerConfig, deps: AppDeps): Promise<FastifyInstance> {
  const cwd = deps.cwd ?? process.cwd();
  const runTimers = deps.runTimers ?? true;
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: config.server.bodyLimitBytes,
    // Fastify's default is no limit at all (see also timeOutStalledBodies below).
    requestTimeout: config.server.requestTimeoutMs,
    trustProxy: config.server.trustProxy,
    // Session ids contain spaces and ">": long, percent-encoded path parameters.
    routerOptions: { querystringParser: parseQueryString, maxParamLength: 2000 },
    // Replaced by one line per request, polls at debug level (plugins/request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    // Typed as the http server either way: routes and plugins do not depend on which it is.
    ...(deps.tls ? { https: deps.tls } : {}),
  } as FastifyServerOptions);
  capConnectionsPerAddress(app.server, config.server.maxConnectionsPerAddress, deps.logger);
  timeOutStalledBodies(app, config.server.requestTimeoutMs);
  logRequestsOnce(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app, { retryAfterSeconds: config.limits.retryAfterSeconds });
  registerBodyParsers(app);
  // Collects every route's zod schemas into an OpenAPI document (`app.swagger()`): written to
  // docs/openapi.json by `npm run openapi`, served at /openapi.json only when server.openApi is on.
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'infinisst-serve', version: buildInfo().version, description: 'Simultaneous speech translation: the InfiniSST API (sessions over HTTP, audio and text over the /wss/{session_id} WebSocket).' },
    },
    transform: jsonSchemaTransform,
    hideUntagged: false,
  });

  // Route guards are onRoute hooks: installed before any route, they attach to the routes they
  // name wherever those are registered, so the route files stay free of cross-cutting checks.
  const clock = deps.clock ?? systemClock;
  const metrics = new ServerMetrics();
  installAdminGuard(app, config.admin.token);
  const { limits } = config;
  await installRateLimits(app, {
    // Every way to open a session shares one budget per address.
    routes: { '/init': 'sessions', '/load_model': 'sessions', '/v1/realtime/translations': 'sessions', '/v1/realtime': 'sessions', '/download_youtube': 'downloads' },
    budgets: { sessions: { max: limits.initPerMinute }, downloads: { max: limits.downloadsPerMinute } },
    ...(deps.rateWindowMs !== undefined ? { windowMs: deps.rateWindowMs } : {}),
    onLimited: (route) => metrics.limited(route),
  });
  if (limits.refuseInitWhenSaturated) installAdmissionGuard(app, ['/init', '/load_model']);
  await refuseAdmissionUnderPressure(app, {
    maxEventLoopDelayMs: limits.maxEventLoopDelayMs,
    maxRssMiB: limits.maxRssMiB,
    retryAfterSeconds: limits.retryAfterSeconds,
    admissionUrls: ['/init', '/load_model'],
  });

  const origins = originPolicy(config.cors.origins);
  refuseForeignWrites(app, origins);
  await app.register(cors, {
    // Same origin by default; "*" reflects any Origin with credentials, as the original did.
    origin: (origin, callback) => callback(null, origin !== undefined && origins.listed(origin)),
    credentials: config.cors.credentials,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  });
  await app.register(websocket, {
    options: { maxPayload: wsMaxPayloadBytes(config.websocket.maxFrameSamples) },
    // Replaces the plugin's default (close every socket at once, without a code): every open
    // stream socket belongs to a session, and closing the sessions closes their sockets with
    // 1001 once the frames still queued for them are written.
    preClose(done) {
      app.sessions.closeAll('shutdown');
      app.websocketServer.close();
      done();
    },
  });
  await app.register(domain, { config, engine: deps.engine, clock, runSweepTimer: runTimers, onSessionEvent: (event) => metrics.sessionEvent(event) });
  await app.register(metricsPlugin, { metrics });
  installInstanceRouting(app, config.cluster.instanceTag);
  if (runTimers) startWebSocketHeartbeat(app, config.websocket.pingIntervalMs);

  await app.register(staticRoutes, { cwd });
  await app.register(sessionRoutes);
  await app.register(streamRoutes);
  await app.register(realtimeRoutes);
  await app.register(healthRoutes);
  await app.register(debugRoutes);
  await app.register(evaluationRoutes);
  await app.register(clusterRoutes);
  await app.register(opsRoutes);
  if (config.server.openApi) {
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }
  const sessions = app.sessions;
  await app.register(mediaRoutes, {
    testVideoDir: resolve(cwd, config.media.testVideoDir),
    ...(deps.youtubeDownloader ? { downloader: deps.youtubeDownloader } : {}),
    ...(config.media.youtube.requireKnownSession ? { isKnownSession: (id: string) => sessions.get(id) !== undefined } : {}),
  });
  return app;
}
