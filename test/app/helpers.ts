/**
 * Shared helpers for server tests: config, app construction on the real engine (or, for
 * ordering/back-pressure tests only, the scripted one), a manual clock, audio and socket utilities.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { serverConfigSchema, type ServerConfig } from '../../src/config/schema.ts';
import type { Clock } from '../../src/sessions/clock.ts';
import type { EngineOptions } from '../../src/inference/engine-options.ts';
import type { TranslationEngine } from '../../src/inference/translation-engine.ts';
import { startEngine, testAudio } from '../support/engine-fixtures.ts';
import { RecordingEngine } from './recording-engine.ts';
import { ScriptedEngine, type ScriptedEngineOptions } from './scripted-engine.ts';
import { baselineBatching, serverLikeEngineOptions, sharedEngine } from './shared-engine.ts';
import { guarded } from './wait.ts';

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
  /** The real engine behind the app, seen through a recorder of the streams it opened. */
  engine: RecordingEngine;
  clock: ManualClock;
  config: ServerConfig;
}

export interface TestAppOptions {
  /**
   * Engine options that differ from the server defaults (e.g. back-pressure limits, a subset of
   * models): the test then gets a real engine of its own, closed after it. Without them the
   * test uses the file's shared real engine.
   */
  engine?: Partial<EngineOptions>;
  config?: DeepPartial<ServerConfig>;
  clock?: ManualClock;
}

/**
 * Builds an app on a real engine (the file's shared one, or a dedicated one when `options.engine`
 * is given) and a manual clock. After the test it closes the app, checks that every engine stream
 * the app opened was released, and restores the shared engine's batching settings.
 */
export async function buildTestApp(t: TestContext, options: TestAppOptions = {}): Promise<TestApp> {
  const dedicated = options.engine ? await startEngine(serverLikeEngineOptions(options.engine)) : undefined;
  const real = dedicated ?? (await sharedEngine());
  // A previous test of the file may have reconfigured the shared engine's batching.
  if (!dedicated) real.configureBatching(baselineBatching);
  const engine = new RecordingEngine(real);
  const release = async (): Promise<void> => {
    if (dedicated) await dedicated.close(1_000);
    else real.configureBatching(baselineBatching);
  };
  try {
    const built = await buildOn(t, engine, options, async () => {
      const leaked = engine.streams.filter((recorded) => !recorded.stream.isClosed).length;
      await release();
      if (leaked > 0) throw new Error(`${leaked} engine stream(s) were still open after app.close()`);
    });
    return { ...built, engine };
  } catch (error) {
    await release();
    throw error;
  }
}

/** Builds an app on the scripted engine (ordering/back-pressure tests only; see scripted-engine.ts). */
export async function buildScriptedTestApp(
  t: TestContext,
  options: { scripted?: ScriptedEngineOptions; config?: DeepPartial<ServerConfig> } = {},
): Promise<Omit<TestApp, 'engine'> & { engine: ScriptedEngine }> {
  const engine = new ScriptedEngine(options.scripted);
  const built = await buildOn(t, engine, options, async () => {});
  return { ...built, engine };
}

async function buildOn(
  t: TestContext,
  engine: TranslationEngine,
  options: { config?: DeepPartial<ServerConfig>; clock?: ManualClock },
  afterClose: () => Promise<void>,
): Promise<Omit<TestApp, 'engine'>> {
  const clock = options.clock ?? new ManualClock();
  const config = testConfig(t, options.config);
  const app = await buildApp(config, { engine, clock, runTimers: false });
  t.after(async () => {
    // Injected sockets never emit 'close' after a clean close handshake (no TCP underneath), so
    // ws would keep a 30 s close timer alive; terminating them ends that at once.
    for (const client of app.websocketServer.clients) client.terminate();
    await app.close();
    await afterClose();
  });
  await app.ready();
  return { app, clock, config };
}

/** POST /init with query parameters; returns the session id. */
export async function createSession(app: FastifyInstance, params: Record<string, string> = {}): Promise<string> {
  const query = new URLSearchParams({ agent_type: 'InfiniSST', language_pair: 'English -> Chinese', client_id: 'client_abc123', ...params });
  const response = await app.inject({ method: 'POST', url: `/init?${query}` });
  const body = response.json<{ session_id?: string }>();
  if (!body.session_id) throw new Error(`init failed: ${response.body}`);
  return body.session_id;
}

/** Deterministic pseudo-speech of `samples` samples (different per seed); see testAudio. */
export function speech(samples: number, seed = 1): Float32Array {
  return testAudio(samples, seed);
}

/** The binary WebSocket frame carrying `samples` (float32 little-endian, as the page sends). */
export function frameOf(samples: Float32Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

/** A frame of `samples` samples of pseudo-speech. */
export function audioFrame(samples: number, seed = 1): Buffer {
  return frameOf(speech(samples, seed));
}

/** Collects text frames of a client socket; a wait gives up (rejects) after the hang guard's silence. */
export class FrameCollector {
  readonly frames: string[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  private lastEventMs = performance.now();

  constructor(socket: WebSocket) {
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (isBinary) return;
      const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as ArrayBuffer).toString();
      this.frames.push(text);
      this.wake();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
  }

  /** Resolves with the first frame (already received or future) matching `predicate`. */
  async waitFor(predicate: (frame: string) => boolean): Promise<string> {
    await this.waitUntil(() => this.frames.some(predicate), 'a matching frame');
    return this.frames.find(predicate) ?? '';
  }

  /** Resolves once `count` translation frames have arrived; returns them. */
  async waitForTranslations(count: number): Promise<string[]> {
    await this.waitUntil(() => this.translations().length >= count, `${count} translation frame(s)`);
    return this.translations();
  }

  async waitForClose(): Promise<{ code: number | null; reason: string }> {
    await this.waitUntil(() => this.closeCode !== null, 'the socket to close');
    return { code: this.closeCode, reason: this.closeReason };
  }

  /** Translation frames (no status prefix). */
  translations(): string[] {
    return this.frames.filter((frame) => !/^(READY|INITIALIZING|ERROR|PROCESSING_COMPLETE|LATENCY_UPDATED):/.test(frame));
  }

  private waitUntil(check: () => boolean, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return guarded(
      new Promise((resolve) => this.waiters.push({ check, resolve })),
      () => `${what}; frames so far: ${JSON.stringify(this.frames)}`,
      () => this.lastEventMs,
    );
  }

  private wake(): void {
    this.lastEventMs = performance.now();
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (waiter.check()) waiter.resolve();
      else this.waiters.push(waiter);
    }
  }
}

/** Opens an injected socket on /wss/{id}, listening from the start (READY may come with the handshake); terminated after the test. */
export async function connectStream(t: TestContext, app: FastifyInstance, id: string): Promise<{ socket: WebSocket; frames: FrameCollector }> {
  let frames: FrameCollector | undefined;
  const socket = await app.injectWS(`/wss/${pathId(id)}`, {}, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  if (!frames) throw new Error('onInit was not called');
  t.after(() => socket.terminate());
  return { socket, frames };
}

/** Percent-encodes a session id for a path, as browsers and aiohttp do. */
export function pathId(id: string): string {
  return encodeURIComponent(id);
}
