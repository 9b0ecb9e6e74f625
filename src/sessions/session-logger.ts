/** The logging surface the session layer needs (satisfied by pino and Fastify loggers). */
import type { BaseLogger } from 'pino';

export type SessionLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>;
