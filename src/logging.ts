/**
 * Logger construction: pino to stdout (pretty on a TTY) and to
 * `logs/ray_infinisst_api_<timestamp>_<pid>.log`. Speech content is logged only under the `transcript`
 * key, which is redacted unless the operator opts in (`logging.logTranscripts`).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino, { type DestinationStream, type Logger, type LoggerOptions, type StreamEntry } from 'pino';
import pretty from 'pino-pretty';
import type { ServerConfig } from './config/schema.ts';
import { maskSessionIdsIn } from './sessions/session-id.ts';

/** Keys under which transcripts, translations or audio may be logged. */
export const speechLogKeys = ['transcript', 'translation', 'text'] as const;

/** pino options shared by every logger of the process (level, redaction, request serializers). */
export function loggerOptions(config: ServerConfig): LoggerOptions {
  const options: LoggerOptions = {
    level: config.logging.level,
    base: { pid: process.pid },
    // A session id is a bearer credential and log files are read by more people than the
    // operator: every id in every line (fields, messages, request URLs, errors) loses its
    // secret part on the way out.
    hooks: { streamWrite: maskSessionIdsIn },
  };
  if (!config.logging.logTranscripts) {
    options.redact = {
      paths: speechLogKeys.flatMap((key) => [key, `*.${key}`]),
      censor: '[redacted]',
    };
  }
  return options;
}

/** "20250101-120000" in local time, as the original's log names carried a run id. */
function timestampForFileName(date: Date): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

export interface CreatedLogger {
  logger: Logger;
  /** Absolute path of the log file, or null when file logging is off. */
  logFile: string | null;
}

/** Creates the process logger; creates the logs folder. Throws if the log file cannot be opened. */
export function createLogger(config: ServerConfig, cwd: string, now = new Date()): CreatedLogger {
  const streams: StreamEntry[] = [];
  const isPretty = config.logging.pretty === 'always' || (config.logging.pretty === 'auto' && process.stdout.isTTY === true);
  const stdout: DestinationStream = isPretty ? pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }) : pino.destination(1);
  streams.push({ level: config.logging.level === 'silent' ? 'fatal' : config.logging.level, stream: stdout });

  let logFile: string | null = null;
  if (config.logging.toFile && config.logging.level !== 'silent') {
    const dir = resolve(cwd, config.paths.logsDir);
    mkdirSync(dir, { recursive: true });
    // The pid keeps two instances started in the same second on one node apart; the name still
    // matches the original's `logs/ray_infinisst_api_*.log`.
    logFile = join(dir, `ray_infinisst_api_${timestampForFileName(now)}_${process.pid}.log`);
    streams.push({ level: config.logging.level, stream: pino.destination({ dest: logFile, sync: false, mkdir: true }) });
  }
  const logger = pino(loggerOptions(config), pino.multistream(streams));
  return { logger, logFile };
}
