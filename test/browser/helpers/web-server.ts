/**
 * The real server for browser tests: the app built in-process with the tiny default models,
 * listening on a free port on 127.0.0.1. In-process so a test can reach the app (e.g. to cut a
 * socket from the server side) and choose the capacity.
 */
import type { FastifyInstance } from 'fastify';
import { resolve } from 'node:path';
import { buildApp } from '../../../src/app.ts';
import { toEngineOptions } from '../../../src/config/engine-options.ts';
import { serverConfigSchema } from '../../../src/config/schema.ts';
import { createEngine } from '../../../src/inference/engine/engine.ts';
import type { TranslationEngine } from '../../../src/inference/translation-engine.ts';
import type { AppDeps } from '../../../src/app.ts';

export interface WebServer {
  app: FastifyInstance;
  engine: TranslationEngine;
  /** http://127.0.0.1:<port> */
  origin: string;
  close(): Promise<void>;
}

export interface WebServerOptions {
  maxActiveSessions?: number;
  /** Folder served at /test_video/ (default: the config's). */
  testVideoDir?: string;
  /** Model package folders to load (default: all in models/). */
  models?: string[];
  /** Stand-in YouTube downloader (absent: the feature is off, as without internet). */
  youtubeDownloader?: AppDeps['youtubeDownloader'];
}

/** Starts engine + app; the caller must `close()` it (in t.after). Throws if models cannot load. */
export async function startWebServer(options: WebServerOptions = {}): Promise<WebServer> {
  const cwd = resolve('.');
  const config = serverConfigSchema.parse({
    server: { host: '127.0.0.1', port: 0, shutdownGraceMs: 1000 },
    logging: { level: 'silent', toFile: false },
    sessions: { maxActiveSessions: options.maxActiveSessions ?? 8 },
    engine: {
      devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }],
      batching: { maxBatchSize: 8, maxWaitMs: 5, maxQueueSize: 1024 },
      ...(options.models ? { models: options.models } : {}),
    },
    ...(options.testVideoDir ? { media: { testVideoDir: options.testVideoDir } } : {}),
  });
  const engine = await createEngine(toEngineOptions(config, cwd));
  let app: FastifyInstance;
  try {
    app = await buildApp(config, { engine, cwd, ...(options.youtubeDownloader ? { youtubeDownloader: options.youtubeDownloader } : {}) });
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (error) {
    await engine.close(0);
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    engine,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      await engine.close(1000);
    },
  };
}

/** Drops every open /wss socket from the server side without a close handshake (a network cut). */
export function cutWebSockets(app: FastifyInstance): number {
  let count = 0;
  for (const client of app.websocketServer.clients) {
    client.terminate();
    count++;
  }
  return count;
}
