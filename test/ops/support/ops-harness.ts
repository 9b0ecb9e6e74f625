/**
 * Harness of the operations tests: a real server (real engine on the tiny default models, real
 * sockets on loopback), speech audio from samples/eval, a WebSocket client that records frames,
 * and small HTTP helpers. Everything started here is closed in `t.after`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import WebSocket from 'ws';
import { buildApp } from '../../../src/app.ts';
import { serverConfigSchema, type ServerConfig } from '../../../src/config/schema.ts';
import { toEngineOptions } from '../../../src/config/engine-options.ts';
import { decodeWav } from '../../../src/evaluation/wav.ts';
import { loggerOptions } from '../../../src/logging.ts';
import { createEngine, type Engine, type PlacementOptions } from '../../../src/inference/engine/engine.ts';
import type { EngineOptions } from '../../../src/inference/engine-options.ts';

export const modelsDir = resolve('models');
export const speechFiles = ['01-weather', '02-coffee', '03-train', '04-latency', '05-thanks'].map((name) => resolve('samples/eval/wav', `${name}.wav`));

type Json = Record<string, unknown>;

/** A parsed config with test folders in a fresh temp dir; `overrides` is a raw (input-shaped) config. */
export function opsConfig(t: TestContext, overrides: Json = {}): ServerConfig {
  const dir = mkdtempSync(join(tmpdir(), 'infinisst-ops-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base: Json = {
    paths: { exportDir: join(dir, 'exports'), logsDir: join(dir, 'logs') },
    media: { testVideoDir: join(dir, 'test_video'), youtube: { enabled: false } },
    engine: { modelsDir, devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }], batching: { maxWaitMs: 5 } },
  };
  return serverConfigSchema.parse(deepMerge(base, overrides));
}

function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const existing = out[key];
    const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = isObject(existing) && isObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

export interface RunningServer {
  app: FastifyInstance;
  engine: Engine;
  config: ServerConfig;
  port: number;
  baseUrl: string;
  /** Closes app then engine (idempotent; also run in t.after). */
  stop(): Promise<void>;
}

/** Starts a real engine and app on 127.0.0.1 (random port unless given). */
export async function startServer(
  t: TestContext,
  options: { config?: Json; engine?: Partial<EngineOptions> & PlacementOptions; port?: number; logger?: Logger } = {},
): Promise<RunningServer> {
  const config = opsConfig(t, options.config ?? {});
  const engine = await createEngine({ ...toEngineOptions(config, process.cwd()), ...options.engine });
  const app = await buildApp(config, { engine, ...(options.logger ? { logger: options.logger } : {}) });
  let isStopped = false;
  const stop = async (): Promise<void> => {
    if (isStopped) return;
    isStopped = true;
    for (const client of app.websocketServer.clients) client.terminate();
    await app.close();
    await engine.close(1_000);
  };
  t.after(stop);
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { app, engine, config, port: address.port, baseUrl: `http://127.0.0.1:${address.port}`, stop };
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let speechCache: Float32Array | undefined;

/** The five sample sentences (16 kHz), concatenated: about 15 s of speech. */
export async function speechSamples(): Promise<Float32Array> {
  if (speechCache) return speechCache;
  const parts = await Promise.all(speechFiles.map(async (file) => decodeWav(await readFile(file)).samples));
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  speechCache = out;
  return out;
}

/** POST with query parameters (as the page does); returns status, headers and parsed JSON (or null). */
export async function post(baseUrl: string, path: string, query: Record<string, string> = {}, init: RequestInit = {}): Promise<{ status: number; headers: Headers; json: Json | null }> {
  const search = new URLSearchParams(query).toString();
  const response = await fetch(`${baseUrl}${path}${search ? `?${search}` : ''}`, { method: 'POST', ...init });
  const text = await response.text();
  let json: Json | null = null;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, json };
}

/** POST /init as the page does; returns the session id (throws with the reply otherwise). */
export async function createSession(baseUrl: string, params: Record<string, string> = {}): Promise<string> {
  const reply = await post(baseUrl, '/init', { agent_type: 'InfiniSST', language_pair: 'English -> German', latency_multiplier: '2', client_id: `client_${Math.random().toString(36).slice(2, 10)}`, ...params });
  const id = reply.json?.session_id;
  if (typeof id !== 'string') throw new Error(`init failed: ${reply.status} ${JSON.stringify(reply.json)}`);
  return id;
}

/** A /wss client recording text frames and the close code. */
export class StreamClient {
  readonly frames: string[] = [];
  closeCode: number | null = null;
  private waiters: { predicate: (frame: string) => boolean; resolve: (frame: string) => void }[] = [];
  private closeWaiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const text = data.toString();
      this.frames.push(text);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.predicate(text)) return true;
        waiter.resolve(text);
        return false;
      });
    });
    socket.on('close', (code: number) => {
      this.closeCode = code;
      for (const resolve of this.closeWaiters.splice(0)) resolve();
    });
    socket.on('error', () => undefined);
  }

  /** Opens `ws://…/wss/<id>` with the id inserted raw, as the page does (the URL parser encodes it). */
  static async open(t: TestContext, baseUrl: string, sessionId: string): Promise<StreamClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/wss/${sessionId}`);
    const client = new StreamClient(socket);
    t.after(() => socket.terminate());
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  waitFor(predicate: (frame: string) => boolean): Promise<string> {
    const found = this.frames.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  waitForClose(): Promise<number | null> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((resolve) => this.closeWaiters.push(() => resolve(this.closeCode)));
  }

  /** Sends `samples` in frames of `frameSamples` (the page's 15 360 × multiplier), the last one padded. */
  sendAudio(samples: Float32Array, frameSamples = 30_720): number {
    let frames = 0;
    for (let offset = 0; offset < samples.length; offset += frameSamples) {
      const frame = new Float32Array(frameSamples);
      frame.set(samples.subarray(offset, offset + frameSamples));
      this.socket.send(frame);
      frames++;
    }
    return frames;
  }

  /** Sends EOF and waits for PROCESSING_COMPLETE. */
  async finish(): Promise<void> {
    const completed = (): number => this.frames.filter((frame) => frame.startsWith('PROCESSING_COMPLETE')).length;
    const before = completed();
    this.socket.send('EOF');
    await this.waitFor(() => completed() > before);
  }

  translations(): string[] {
    return this.frames.filter((frame) => !/^(READY|INITIALIZING|ERROR|PROCESSING_COMPLETE|LATENCY_UPDATED):/.test(frame));
  }

  errors(): string[] {
    return this.frames.filter((frame) => frame.startsWith('ERROR:'));
  }
}

/** Polls `condition` every `intervalMs` until true; resolves with the elapsed milliseconds. */
export async function until(condition: () => boolean, intervalMs = 10): Promise<number> {
  const startedAt = performance.now();
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, intervalMs));
  return performance.now() - startedAt;
}

/** Every route of `method` (parameters left as `:name`, wildcards as `*`), read from Fastify's own route tree. */
export function routesOf(app: FastifyInstance, method: 'GET' | 'POST'): string[] {
  const paths: string[] = [];
  const stack: string[] = [];
  const line = new RegExp(`^([│ ]*)[├└]── (\\S+) \\(${method}(?:, HEAD)?\\)$`);
  for (const text of app.printRoutes({ method, commonPrefix: false }).split('\n')) {
    const match = line.exec(text.trimEnd());
    if (!match) continue;
    stack.length = (match[1] ?? '').length / 4;
    stack.push(match[2] ?? '');
    paths.push(stack.join(''));
  }
  return paths;
}

/** A logger configured as the server's own (masking, redaction) that keeps every line it writes. */
export function capturingLogger(level: 'debug' | 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino(loggerOptions(serverConfigSchema.parse({ logging: { level } })), sink), lines };
}
