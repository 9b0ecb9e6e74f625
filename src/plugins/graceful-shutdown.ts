/**
 * The one shutdown order (house style §11): stop admitting and tell clients; drain in-flight
 * batches (their results still reach open sockets); release sessions (sockets closed with 1001);
 * terminate workers (inside engine.close, after the drain); close the HTTP server.
 */
import type { FastifyInstance } from 'fastify';
import type { TranslationEngine } from '../inference/translation-engine.ts';

export interface ShutdownOptions {
  engine: Pick<TranslationEngine, 'close'>;
  /** Longest wait for in-flight batches before workers are terminated. */
  graceMs: number;
}

/** Shuts the app and engine down in order; never throws (failures are logged). */
export async function shutdownGracefully(app: FastifyInstance, options: ShutdownOptions): Promise<void> {
  app.log.info({ graceMs: options.graceMs }, 'shutting down: no new sessions, draining in-flight work');
  app.sessions.beginShutdown();
  try {
    await options.engine.close(options.graceMs);
  } catch (error) {
    app.log.error({ err: error }, 'engine did not close cleanly');
  }
  app.sessions.closeAll('shutdown');
  try {
    await app.close();
  } catch (error) {
    app.log.error({ err: error }, 'HTTP server did not close cleanly');
  }
  app.log.info('shutdown complete');
}
