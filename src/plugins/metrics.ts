/**
 * Wires the Prometheus metrics into the app: scrape-time sources (sessions, engine, devices,
 * readiness), the engine's batch/chunk observer, an HTTP request counter keyed by route template
 * (bounded label set: unknown paths count as "(unmatched)"), YouTube download outcomes, and
 * WebSocket frame counts. GET /metrics itself lives in routes/ops.ts.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { RawData, WebSocket } from 'ws';
import { deviceLoadsOf, observeEngine } from './engine-extras.ts';
import { assessReadiness } from './readiness.ts';
import type { ServerMetrics } from './server-metrics.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServerMetrics;
  }
}

export interface MetricsPluginOptions {
  metrics: ServerMetrics;
}

function byteLengthOf(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.byteLength, 0);
  return data.byteLength;
}

async function metricsPlugin(app: FastifyInstance, options: MetricsPluginOptions): Promise<void> {
  const { metrics } = options;
  metrics.attach({
    sessionCounts: () => {
      const counts = app.sessions.counts();
      let connected = 0;
      let pendingAudioMs = 0;
      const lagMs: number[] = [];
      for (const session of app.sessions.list()) {
        if (session.hasSink) connected++;
        pendingAudioMs += session.pendingAudioMs;
        if (session.state === 'active') lagMs.push(session.pendingAudioMs);
      }
      return { active: counts.active, queued: counts.queued, connected, pendingAudioMs, lagMs };
    },
    engineStats: () => app.engine.stats(),
    deviceLoads: () => deviceLoadsOf(app.engine),
    batching: () => app.engine.batchingSettings(),
    isReady: () => assessReadiness({ engine: app.engine, sessions: app.sessions, config: app.appConfig }).isReady,
    webSocketConnections: () => app.websocketServer.clients.size,
  });
  const stopObserving = observeEngine(app.engine, {
    onBatch: (batch) => metrics.batch(batch),
    onChunk: (chunk) => metrics.chunk(chunk.languagePair, chunk.processingMs),
  });
  app.addHook('onClose', async () => stopObserving());

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    metrics.httpRequest(request.method, route, reply.statusCode, reply.elapsedTime);
    if (route === '/download_youtube' && request.method === 'POST') {
      const type = String(reply.getHeader('content-type') ?? '');
      metrics.download(reply.statusCode === 429 ? 'limited' : type.startsWith('video/') ? 'ok' : 'error');
    }
    done();
  });

  app.websocketServer.on('connection', (socket: WebSocket) => {
    socket.on('message', (data: RawData, isBinary: boolean) => metrics.wsFrame(isBinary, byteLengthOf(data)));
  });
  app.decorate('metrics', metrics);
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['domain'] });
