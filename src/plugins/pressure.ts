/**
 * Admission under pressure (@fastify/under-pressure): while the main thread's event loop stalls or
 * the process's memory nears the machine's, new sessions would only fall behind or push the
 * machine into swapless exhaustion, so the session-creating routes answer 503 with Retry-After.
 * Every other route (pings, sockets, deletes, health) keeps working: refusing them would turn a
 * slow server into a broken one for the sessions it already has.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { totalmem } from 'node:os';
import { AppError } from '../errors.ts';

const SAMPLE_INTERVAL_MS = 500;

export interface PressureOptions {
  maxEventLoopDelayMs: number;
  /** 0 = 85% of the machine's memory. */
  maxRssMiB: number;
  retryAfterSeconds: number;
  /** Routes refused under pressure. */
  admissionUrls: readonly string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Event-loop delay and memory against their limits (see plugins/pressure.ts). */
    pressureState(): PressureState;
  }
}

export interface PressureState {
  underPressure: boolean;
  eventLoopDelayMs: number;
  rssBytes: number;
  maxRssBytes: number;
}

export async function refuseAdmissionUnderPressure(app: FastifyInstance, options: PressureOptions): Promise<void> {
  const maxRssBytes = options.maxRssMiB > 0 ? options.maxRssMiB * 1024 * 1024 : Math.floor(totalmem() * 0.85);
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    maxRssBytes,
    sampleInterval: SAMPLE_INTERVAL_MS,
    pressureHandler: (request, _reply, type, value) => {
      if (!options.admissionUrls.includes(request.routeOptions.url ?? '')) return undefined;
      const what = type === 'eventLoopDelay' ? `the event loop lags ${Math.round(Number(value))} ms` : `${type} is ${Math.round(Number(value) / 1024 / 1024)} MiB`;
      return Promise.reject(new AppError('overloaded', `Server under pressure (${what}); try again shortly`, { details: { retryAfterSeconds: options.retryAfterSeconds } }));
    },
  });
  app.decorate('pressureState', (): PressureState => {
    const usage = app.memoryUsage();
    return { underPressure: app.isUnderPressure(), eventLoopDelayMs: Math.round(usage.eventLoopDelay), rssBytes: usage.rssBytes, maxRssBytes };
  });
}
