/**
 * The one configuration schema. Every default lives here, so `--create-default` writes exactly
 * what the server would use. Objects are strict: a misspelt key in a config file is an error, not
 * a silently ignored setting.
 */
import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '../inference/manifest.ts';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().min(1);
const nonNegativeNumber = z.number().finite().min(0);

const deviceGroupSchema = z.strictObject({
  /** "cpu" or "cuda:<n>" (n = index among CUDA_VISIBLE_DEVICES). */
  device: z.string().regex(/^(cpu|cuda:\d+)$/, 'must be "cpu" or "cuda:<index>"'),
  workers: positiveInt.max(64),
  intraOpThreads: positiveInt.max(256),
  languagePairs: z.array(z.string().min(1)).optional(),
  /**
   * Bytes this group may use on its device: every worker's weights, then the sessions' state
   * (decoder slot, encoder cache), which sets how many sessions each worker hosts. Absent = 75% of
   * the free memory measured at start-up.
   */
  memoryBudgetBytes: positiveInt.optional(),
});

export const serverConfigSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0'),
      port: port.default(8000),
      /** Largest HTTP request body accepted (JSON and form bodies are tiny in this API). */
      bodyLimitBytes: positiveInt.default(1024 * 1024),
      /**
       * A request whose headers and body have not fully arrived within this is answered 408 and
       * its connection closed: a client that never finishes a body cannot hold a descriptor.
       */
      requestTimeoutMs: positiveInt.default(30_000),
      /** Open TCP connections one client address may hold (0 = no cap); behind a proxy, raise it or set 0. */
      maxConnectionsPerAddress: z.number().int().min(0).default(256),
      /** Serve the OpenAPI document of the HTTP API at /openapi.json (the same as docs/openapi.json). */
      openApi: z.boolean().default(false),
      /**
       * PEM certificate chain and private key files: with both set the server speaks https and
       * wss itself (clients that insist on TLS, such as the OpenAI SDK's realtime translation
       * client, can then connect without a proxy in front). Unset: plain http.
       */
      tlsCertFile: z.string().min(1).nullable().default(null),
      tlsKeyFile: z.string().min(1).nullable().default(null),
      /** How long shutdown waits for in-flight batches before terminating workers. */
      shutdownGraceMs: nonNegativeNumber.default(10_000),
      /**
       * Trust X-Forwarded-For from a proxy (nginx): request.ip, and hence the per-address limits,
       * then use the forwarded address. true trusts any peer (only when clients cannot reach the
       * server directly, or they can spoof their address); a comma-separated list of proxy
       * addresses or CIDRs ("127.0.0.1", "10.0.0.0/8") trusts only those peers.
       */
      trustProxy: z
        .union([z.boolean(), z.string().trim().min(1).max(1000)])
        .transform((value) => (value === 'true' ? true : value === 'false' ? false : value))
        .default(false),
    })
    .refine((server) => (server.tlsCertFile === null) === (server.tlsKeyFile === null), {
      message: 'server.tlsCertFile and server.tlsKeyFile (--tls-cert, --tls-key) go together: set both or neither',
    })
    .prefault({}),
  cors: z
    .strictObject({
      /**
       * Web origins (besides the server's own pages) whose pages may call the API and open streams:
       * [] = same origin only (default); ["*"] = any site, as the original (then set admin.token).
       */
      origins: z.array(z.string().min(1)).default([]),
      credentials: z.boolean().default(true),
    })
    .prefault({}),
  admin: z
    .strictObject({
      /**
       * When set, /ray/configure and /configure_dynamic_schedule require
       * `Authorization: Bearer <token>` (or `X-Admin-Token`). Unset keeps the original's open access.
       */
      token: z.string().min(8).nullable().default(null),
      /**
       * Registers POST /debug/inject_fault (admin-only) to crash or hang an inference worker:
       * for recovery drills. Off by default; never enable it on a server without admin.token.
       */
      allowFaultInjection: z.boolean().default(false),
    })
    .prefault({}),
  paths: z
    .strictObject({
      /** Candidate folders for the web client, first existing wins (relative to the working directory). */
      staticDirs: z.array(z.string().min(1)).min(1).default(['static', 'serve/static', '../static']),
      logsDir: z.string().min(1).default('logs'),
      /** The only folder /export_session_delays* may write into. */
      exportDir: z.string().min(1).default('evaluation_results'),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** "auto" = pretty when stdout is a TTY. */
      pretty: z.enum(['auto', 'always', 'never']).default('auto'),
      /** Also write logs/ray_infinisst_api_<timestamp>_<pid>.log. */
      toFile: z.boolean().default(true),
      /** Transcripts and translations are personal data: redacted from logs unless enabled. */
      logTranscripts: z.boolean().default(false),
    })
    .prefault({}),
  sessions: z
    .strictObject({
      /**
       * Sessions translating at once; further /init calls wait in a FIFO queue. null = the
       * sessions the engine has memory for: every worker's slots, from each device group's
       * memoryBudgetBytes (or the free memory measured at start-up), printed at start-up.
       */
      maxActiveSessions: positiveInt.max(100_000).nullable().default(null),
      /** Sessions allowed to wait; beyond this /init answers 503. */
      maxQueuedSessions: z.number().int().min(0).max(100_000).default(64),
      /** A session with neither ping nor frame for this long is deleted (original: 300 s). */
      idleTimeoutMs: positiveInt.default(300_000),
      sweepIntervalMs: positiveInt.default(5_000),
      /** An active session that never opened its socket gives its slot back after this (0 = never). */
      attachGraceMs: z.number().int().min(0).default(30_000),
      defaultLatencyMultiplier: positiveInt.max(16).default(2),
      /** Bounded in-memory log of session events for /debug/session_history. */
      historySize: z.number().int().min(0).max(100_000).default(200),
      /** /health and /debug list session ids with the unguessable part masked unless enabled. */
      exposeSessionIds: z.boolean().default(false),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /**
       * /init and /load_model calls per client address per minute (0 = no limit). Generous by
       * default: 50 sessions started at once from one address (a lab behind NAT, every browser
       * behind one nginx) pass.
       */
      initPerMinute: z.number().int().min(0).default(120),
      /** /download_youtube calls per client address per minute (0 = no limit). */
      downloadsPerMinute: z.number().int().min(0).default(12),
      /** Open sessions (active + queued) per client_id; 0 = no limit. */
      maxSessionsPerClient: z.number().int().min(0).default(8),
      /** /init answers 503 while the main thread's event loop lags more than this (mean over 0.5 s); 0 = off. */
      maxEventLoopDelayMs: z.number().int().min(0).default(1_000),
      /** /init answers 503 while the process's resident memory exceeds this many MiB; 0 = 85% of the machine's memory. */
      maxRssMiB: z.number().int().min(0).default(0),
      /** Open sessions (active + queued) per client address; 0 = no limit. Behind a proxy needs server.trustProxy. */
      maxSessionsPerAddress: z.number().int().min(0).default(64),
      /** A session is closed this long after creation, however active (0 = never). */
      maxSessionDurationMs: z.number().int().min(0).default(6 * 3600_000),
      /** Retry-After (seconds) on 429/503 replies that do not compute their own. */
      retryAfterSeconds: positiveInt.max(3600).default(5),
      /** /init answers 503 while the server is saturated (see /readyz) instead of queueing more work. */
      refuseInitWhenSaturated: z.boolean().default(true),
      /** Saturated = some batch queue holds at least this fraction of engine.batching.maxQueueSize… */
      saturationQueueFraction: z.number().finite().min(0.1).max(1).default(0.9),
      /**
       * … or at least half of the active sessions hold more than this much untranslated audio: the
       * engine is not keeping up (0 = off). Untranslated audio is the lag the next chunk will see.
       */
      saturationLagMs: z.number().int().min(0).default(10_000),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      /**
       * Appended to every session id this instance creates (`…_<random>.<tag>`), so that nginx
       * can route a session's requests to the instance that owns it. null = single instance.
       */
      instanceTag: z
        .string()
        .regex(/^[a-z][a-z0-9]{0,15}$/, 'must be 1-16 lower-case letters or digits, starting with a letter')
        .nullable()
        .default(null),
    })
    .prefault({}),
  websocket: z
    .strictObject({
      /** Largest audio frame accepted, in samples (browser sends at most 15 360 × 4). */
      maxFrameSamples: positiveInt.default(15_360 * 8),
      /** Protocol-level ping period; a socket missing two pongs is terminated. */
      pingIntervalMs: positiveInt.default(20_000),
      /**
       * Period of the lag report (how far a session's translation is behind the audio it sent), ms:
       * the realtime `infinisst.lag` event, and `LAG:` frames on /wss sockets that ask (?lag=true).
       * 0 = never.
       */
      lagIntervalMs: z.number().int().min(0).default(1000),
    })
    .prefault({}),
  realtime: z
    .strictObject({
      /**
       * Keys a client of /v1/realtime/translations presents (`Authorization: Bearer <key>`, or a
       * client secret minted with one). admin.token is always one of them. None at all: open.
       */
      apiKeys: z.array(z.string().min(8)).default([]),
    })
    .prefault({}),
  engine: z
    .strictObject({
      modelsDir: z.string().min(1).default('models'),
      /** Package folder names to load; null = every package in modelsDir. */
      models: z.array(z.string().min(1)).min(1).nullable().default(null),
      // 2 workers × 1 thread by default: on a 2-core machine about twice the throughput of one
      // worker × 2 threads (npm run bench:engine -- --workers 1 --threads 2 against the defaults;
      // worker threads overlap message passing and packing with compute).
      devices: z.array(deviceGroupSchema).min(1).default([{ device: 'cpu', workers: 2, intraOpThreads: 1 }]),
      /**
       * How a new session picks among the device groups serving its pair: fewest open streams per
       * live worker, the next group in turn, or the most free device memory (docs/operations.md, placement).
       */
      placement: z.enum(['least-loaded', 'round-robin', 'most-free-memory']).default('least-loaded'),
      /** Device groups derived from the visible GPUs when `devices` is not given and CUDA is requested. */
      gpu: z
        .strictObject({
          /** GPU ids as in CUDA_VISIBLE_DEVICES; null = read CUDA_VISIBLE_DEVICES. */
          visibleDevices: z.array(z.string().min(1)).nullable().default(null),
          workersPerGpu: positiveInt.max(16).default(1),
          intraOpThreadsPerGpu: positiveInt.max(64).default(1),
          /**
           * Pair(s) per GPU, keyed by the index among the visible GPUs ("0", "1", …) — the
           * original's gpu_language_map. A GPU not named serves every pair.
           */
          languagePairs: z.record(z.string().regex(/^\d+$/, 'keys are GPU indices among the visible devices: "0", "1", …'), z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])).default({}),
        })
        .prefault({}),
      /** Provider preference overriding the manifests', e.g. ["cuda", "cpu"]; null = manifests'. */
      executionProviders: z.array(z.enum(EXECUTION_PROVIDERS, { error: (issue) => `unknown execution provider ${JSON.stringify(issue.input)}: one of ${EXECUTION_PROVIDERS.join(', ')}` })).min(1).nullable().default(null),
      /**
       * Start-up fails unless every worker loaded the first provider it was asked for (e.g. CUDA
       * on a GPU node), instead of warning and running on the CPU.
       */
      requireProviders: z.boolean().default(false),
      batching: z
        .strictObject({
          maxBatchSize: positiveInt.max(1024).default(32),
          maxWaitMs: nonNegativeNumber.default(100),
          maxQueueSize: positiveInt.default(1024),
        })
        .prefault({}),
      requestDeadlineMs: positiveInt.default(30_000),
      /** null = the manifests' beam size. */
      beamSize: positiveInt.max(64).nullable().default(null),
      streamHighWaterMs: positiveInt.default(20_000),
      streamMaxPendingMs: positiveInt.default(60_000),
    })
    .prefault({}),
  media: z
    .strictObject({
      /** The only folder GET /test_video/{filename} serves from (W13). */
      testVideoDir: z.string().min(1).default('static/test_video'),
      youtube: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Downloads are refused unless session_id names a live session. */
          requireKnownSession: z.boolean().default(true),
          cacheDir: z.string().min(1).default('cache/youtube'),
          cacheMaxBytes: positiveInt.default(2 * 1024 ** 3),
          maxBytes: positiveInt.default(512 * 1024 ** 2),
          maxDurationSeconds: positiveInt.default(3 * 3600),
          timeoutMs: positiveInt.default(10 * 60_000),
          stallTimeoutMs: positiveInt.default(30_000),
          maxConcurrent: positiveInt.max(64).default(2),
          maxQueued: z.number().int().min(0).max(1000).default(8),
        })
        .prefault({}),
    })
    .prefault({}),
  evaluation: z
    .strictObject({
      /** Per session, output segments kept for delay statistics (oldest dropped beyond). */
      maxSegmentsPerSession: positiveInt.default(10_000),
    })
    .prefault({}),
});

export type ServerConfig = z.output<typeof serverConfigSchema>;
export type DeviceGroupConfig = z.output<typeof deviceGroupSchema>;
