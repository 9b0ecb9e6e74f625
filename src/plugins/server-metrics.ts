/**
 * The Prometheus metrics of one server instance, in their own registry (several apps may live in
 * one process in tests). Event metrics (batches, chunks, session events, HTTP requests) are
 * observed as they happen; state metrics (sessions, queues, workers, devices) are read from the
 * domain at scrape time through `sources`. No Fastify here: plugins/metrics.ts wires it.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildInfo } from '../build-info.ts';
import type { BatchObservation, DeviceLoad } from '../inference/engine/engine.ts';
import type { EngineStats } from '../inference/translation-engine.ts';
import type { SessionEvent } from '../sessions/session-history.ts';

/** What the scrape-time collectors read. Each must be cheap and must not throw. */
export interface MetricSources {
  sessionCounts(): { active: number; queued: number; connected: number; pendingAudioMs: number; lagMs: number[] };
  engineStats(): EngineStats;
  deviceLoads(): DeviceLoad[] | null;
  batching(): { maxBatchSize: number; maxWaitMs: number };
  isReady(): boolean;
  webSocketConnections(): number;
}

const ms = 1 / 1000;

/** Sets a labelled counter to an absolute value taken from the engine's own counters. */
function mirror<T extends string>(counter: Counter<T>, values: { labels: Partial<Record<T, string>>; value: number }[]): void {
  counter.reset();
  for (const { labels, value } of values) if (value > 0) counter.inc(labels, value);
}

export class ServerMetrics {
  readonly registry = new Registry();
  private sources: MetricSources | null = null;

  private readonly sessionEvents = new Counter({ name: 'infinisst_session_events_total', help: 'Session lifecycle events', labelNames: ['event'] as const, registers: [this.registry] });
  private readonly batchSize = new Histogram({
    name: 'infinisst_batch_size', help: 'Items per dispatched batch', labelNames: ['model', 'device', 'phase'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [this.registry],
  });
  private readonly batchWait = new Histogram({
    name: 'infinisst_batch_wait_seconds', help: 'Time an item waited in the batch queue before its batch started', labelNames: ['model', 'device', 'phase'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  private readonly batchCompute = new Histogram({
    name: 'infinisst_batch_compute_seconds', help: 'Worker time per batch, by phase (prefill = encoder + prompt, decode = one step)', labelNames: ['model', 'device', 'phase'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  private readonly batchFailures = new Counter({ name: 'infinisst_batch_failures_total', help: 'Batches that failed (worker crash, deadline, error)', labelNames: ['model', 'device', 'phase'] as const, registers: [this.registry] });
  private readonly chunkLag = new Histogram({
    name: 'infinisst_chunk_lag_seconds', help: 'Frame-to-text lag: from a chunk\'s audio being complete to its text being ready', labelNames: ['language_pair'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60], registers: [this.registry],
  });
  private readonly httpRequests = new Counter({ name: 'infinisst_http_requests_total', help: 'HTTP requests by route template and status', labelNames: ['method', 'route', 'status'] as const, registers: [this.registry] });
  private readonly httpDuration = new Histogram({
    name: 'infinisst_http_request_duration_seconds', help: 'HTTP request duration by route template', labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120], registers: [this.registry],
  });
  private readonly rateLimited = new Counter({ name: 'infinisst_rate_limited_total', help: 'Requests refused by a per-client rate limit', labelNames: ['route'] as const, registers: [this.registry] });
  private readonly downloads = new Counter({ name: 'infinisst_youtube_downloads_total', help: 'POST /download_youtube outcomes', labelNames: ['outcome'] as const, registers: [this.registry] });
  private readonly wsFrames = new Counter({ name: 'infinisst_ws_frames_received_total', help: 'WebSocket frames received on /wss', labelNames: ['kind'] as const, registers: [this.registry] });
  private readonly wsBytes = new Counter({ name: 'infinisst_ws_bytes_received_total', help: 'WebSocket payload bytes received', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const build = buildInfo();
    new Gauge({ name: 'infinisst_build_info', help: 'Always 1; the labels say which build is running', labelNames: ['version', 'commit'] as const, registers: [this.registry] })
      .set({ version: build.version, commit: build.commit ?? 'unknown' }, 1);
    // Collectors are called with `this` bound to their metric; the sources come through this arrow.
    const source = (): MetricSources | null => this.sources;
    new Gauge({
      name: 'infinisst_sessions', help: 'Sessions by state (connected = has an open socket)', labelNames: ['state'] as const, registers: [this.registry],
      collect() {
        const counts = source()?.sessionCounts();
        if (!counts) return;
        this.set({ state: 'active' }, counts.active);
        this.set({ state: 'queued' }, counts.queued);
        this.set({ state: 'connected' }, counts.connected);
      },
    });
    new Gauge({
      name: 'infinisst_pending_audio_seconds', help: 'Audio received but not yet translated, summed over sessions', registers: [this.registry],
      collect() {
        const counts = source()?.sessionCounts();
        if (counts) this.set(counts.pendingAudioMs * ms);
      },
    });
    new Gauge({
      name: 'infinisst_session_lag_seconds',
      help: 'How far active sessions\' translation is behind the audio they sent (/wss and realtime alike): the median, 90th percentile and largest over sessions; silence keeps it small, an overloaded server makes it grow',
      labelNames: ['quantile'] as const,
      registers: [this.registry],
      collect() {
        const lags = [...(source()?.sessionCounts().lagMs ?? [])].sort((a, b) => a - b);
        const at = (q: number): number => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? 0;
        for (const q of [0.5, 0.9, 1]) this.set({ quantile: String(q) }, at(q) * ms);
      },
    });
    new Gauge({
      name: 'infinisst_batch_queue_depth', help: 'Items waiting in each batch queue', labelNames: ['model', 'phase'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const [model, stats] of Object.entries(source()?.engineStats().models ?? {})) {
          this.set({ model, phase: 'prefill' }, stats.prefill.queueDepth);
          this.set({ model, phase: 'decode' }, stats.decode.queueDepth);
        }
      },
    });
    new Counter({
      name: 'infinisst_batches_total', help: 'Dispatched batches by flush reason', labelNames: ['model', 'phase', 'reason'] as const, registers: [this.registry],
      collect() {
        const models = Object.entries(source()?.engineStats().models ?? {});
        mirror(this, models.flatMap(([model, stats]) => (['prefill', 'decode'] as const).flatMap((phase) =>
          Object.entries(stats[phase].flushReasons).map(([reason, value]) => ({ labels: { model, phase, reason }, value })))));
      },
    });
    new Counter({
      name: 'infinisst_batch_rejected_total', help: 'Items refused because a batch queue was full', labelNames: ['model', 'phase'] as const, registers: [this.registry],
      collect() {
        const models = Object.entries(source()?.engineStats().models ?? {});
        mirror(this, models.flatMap(([model, stats]) => (['prefill', 'decode'] as const).map((phase) => ({ labels: { model, phase }, value: stats[phase].rejected }))));
      },
    });
    new Counter({
      name: 'infinisst_chunks_total', help: 'Chunks translated or failed', labelNames: ['outcome'] as const, registers: [this.registry],
      collect() {
        const stats = source()?.engineStats();
        if (stats) mirror(this, [{ labels: { outcome: 'ok' }, value: stats.chunksProcessed }, { labels: { outcome: 'error' }, value: stats.chunkErrors }]);
      },
    });
    new Counter({
      name: 'infinisst_worker_restarts_total', help: 'Inference workers replaced after a crash or a missed deadline', labelNames: ['device'] as const, registers: [this.registry],
      collect() {
        const sources = source();
        if (!sources) return;
        const loads = sources.deviceLoads();
        if (loads) mirror(this, loads.map((load) => ({ labels: { device: load.device }, value: load.restarts })));
        else mirror(this, [{ labels: { device: 'all' }, value: sources.engineStats().workerRestarts }]);
      },
    });
    new Gauge({
      name: 'infinisst_workers', help: 'Inference workers per device group: configured, live (ready) and busy', labelNames: ['device', 'state'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const load of source()?.deviceLoads() ?? []) {
          this.set({ device: load.device, state: 'configured' }, load.workers);
          this.set({ device: load.device, state: 'live' }, load.liveWorkers);
          this.set({ device: load.device, state: 'busy' }, load.busyWorkers);
        }
      },
    });
    new Gauge({
      name: 'infinisst_device_open_streams', help: 'Open engine streams (sessions) placed on each device group', labelNames: ['device'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const load of source()?.deviceLoads() ?? []) this.set({ device: load.device }, load.openStreams);
      },
    });
    new Gauge({
      name: 'infinisst_device_free_memory_bytes', help: 'Free memory of each device group, where known (docs/operations.md: placement)', labelNames: ['device'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const load of source()?.deviceLoads() ?? []) if (load.freeMemoryBytes !== null) this.set({ device: load.device }, load.freeMemoryBytes);
      },
    });
    new Gauge({
      name: 'infinisst_batching_setting', help: 'Batching settings in force', labelNames: ['setting'] as const, registers: [this.registry],
      collect() {
        const settings = source()?.batching();
        if (!settings) return;
        this.set({ setting: 'max_batch_size' }, settings.maxBatchSize);
        this.set({ setting: 'max_wait_seconds' }, settings.maxWaitMs * ms);
      },
    });
    new Gauge({
      name: 'infinisst_ready', help: '1 when /readyz would answer 200', registers: [this.registry],
      collect() {
        const sources = source();
        if (sources) this.set(sources.isReady() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'infinisst_ws_connections', help: 'Open WebSocket connections', registers: [this.registry],
      collect() {
        const sources = source();
        if (sources) this.set(sources.webSocketConnections());
      },
    });
  }

  /** Connects the scrape-time collectors to the running app. */
  attach(sources: MetricSources): void {
    this.sources = sources;
  }

  sessionEvent(event: SessionEvent): void {
    this.sessionEvents.inc({ event: event.event });
  }

  batch(batch: BatchObservation): void {
    const labels = { model: batch.model, device: batch.device, phase: batch.phase };
    this.batchSize.observe(labels, batch.items);
    for (const waitMs of batch.waitsMs) this.batchWait.observe(labels, waitMs * ms);
    this.batchCompute.observe(labels, batch.computeMs * ms);
    if (!batch.ok) this.batchFailures.inc(labels);
  }

  chunk(languagePair: string, processingMs: number): void {
    this.chunkLag.observe({ language_pair: languagePair }, processingMs * ms);
  }

  httpRequest(method: string, route: string, status: number, durationMs: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, durationMs * ms);
  }

  limited(route: string): void {
    this.rateLimited.inc({ route });
  }

  download(outcome: 'ok' | 'error' | 'limited'): void {
    this.downloads.inc({ outcome });
  }

  wsFrame(isBinary: boolean, bytes: number): void {
    this.wsFrames.inc({ kind: isBinary ? 'binary' : 'text' });
    this.wsBytes.inc(bytes);
  }

  /** The text exposition format. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
