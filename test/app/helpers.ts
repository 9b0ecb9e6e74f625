/** Shared helpers for server tests: config, app construction, a manual clock, socket utilities. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { serverConfigSchema, type ServerConfig } from '../../src/config/schema.ts';
import type { Clock } from '../../src/sessions/clock.ts';
import { FakeEngine, type FakeEngineOptions } from './fake-engine.ts';

export class ManualClock implements Clock {
  constructor(public nowMs = 1_751_481_504_123) {}
  now(): number {
    return this.nowMs;
  }
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** A valid config with test-friendly folders (a fresh temp dir per call). */
export function testConfig(t: TestContext, overrides: DeepPartial<ServerConfig> = {}): ServerConfig {
  const dir = mkdtempSync(join(tmpdir(), 'infinisst-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = {
    paths: { exportDir: join(dir, 'exports'), logsDir: join(dir, 'logs') },
    media: { testVideoDir: join(dir, 'test_video'), youtube: { enabled: false } },
  };
  return serverConfigSchema.parse(merge(base, overrides));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const existing = out[key];
    out[key] =
      typeof existing === 'object' && existing !== null && !Array.isArray(existing) && typeof value === 'object' && value !== null && !Array.isArray(value)
        ? merge(existing as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

export interface TestApp {
  app: FastifyInstance;
  engine: FakeEngine;
  clock: ManualClock;
  config: ServerConfig;
}

/** Builds an app on a FakeEngine and a manual clock; closed after the test. */
export async function buildTestApp(
  t: TestContext,
  options: { engine?: FakeEngineOptions; config?: DeepPartial<ServerConfig>; clock?: ManualClock } = {},
): Promise<TestApp> {
  const engine = new FakeEngine(options.engine);
  const clock = options.clock ?? new ManualClock();
  const config = testConfig(t, options.config);
  const app = await buildApp(config, { engine, clock, runTimers: false });
  t.after(async () => {
    // Injected sockets never emit 'close' after a clean close handshake (no TCP underneath), so
    // ws would keep a 30 s close timer alive; terminating them ends that at once.
    for (const client of app.websocketServer.clients) client.terminate();
    await app.close();
  });
  await app.ready();
  return { app, engine, clock, config };
}

/** POST /init with query parameters; returns the session id. */
export async function createSession(app: FastifyInstance, params: Record<string, string> = {}): Promise<string> {
  const query = new URLSearchParams({ agent_type: 'InfiniSST', language_pair: 'English -> Chinese', client_id: 'client_abc123', ...params });
  const response = await app.inject({ method: 'POST', url: `/init?${query}` });
  const body = response.json<{ session_id?: string }>();
  if (!body.session_id) throw new Error(`init failed: ${response.body}`);
  return body.session_id;
}

/** A frame of `samples` float32 samples of a quiet sine wave. */
export function audioFrame(samples: number): Buffer {
  const data = new Float32Array(samples);
  for (let i = 0; i < samples; i++) data[i] = 0.1 * Math.sin((2 * Math.PI * 220 * i) / 16_000);
  return Buffer.from(data.buffer);
}

/** Collects text frames of a client socket; `next()` waits for the next one. */
export class FrameCollector {
  readonly frames: string[] = [];
  private waiters: { predicate: (frame: string) => boolean; resolve: (frame: string) => void }[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private closeWaiters: (() => void)[] = [];

  constructor(socket: WebSocket) {
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (isBinary) return;
      const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as ArrayBuffer).toString();
      this.frames.push(text);
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) {
        if (waiter.predicate(text)) waiter.resolve(text);
        else this.waiters.push(waiter);
      }
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      for (const resolve of this.closeWaiters) resolve();
      this.closeWaiters = [];
    });
  }

  /** Resolves with the first frame (already received or future) matching `predicate`. */
  waitFor(predicate: (frame: string) => boolean): Promise<string> {
    const found = this.frames.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  waitForClose(): Promise<{ code: number | null; reason: string }> {
    if (this.closeCode !== null) return Promise.resolve({ code: this.closeCode, reason: this.closeReason });
    return new Promise((resolve) => this.closeWaiters.push(() => resolve({ code: this.closeCode, reason: this.closeReason })));
  }

  /** Translation frames (no status prefix). */
  translations(): string[] {
    return this.frames.filter((frame) => !/^(READY|INITIALIZING|ERROR|PROCESSING_COMPLETE|LATENCY_UPDATED):/.test(frame));
  }
}

/** Percent-encodes a session id for a path, as browsers and aiohttp do. */
export function pathId(id: string): string {
  return encodeURIComponent(id);
}
