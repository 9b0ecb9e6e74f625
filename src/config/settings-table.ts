/**
 * The settings that may come from the command line or the environment, in one table so that
 * `--help`, the flag parser and the environment reader cannot drift apart. Each setting names the
 * config path it writes; the value is converted here and validated by the zod schema afterwards.
 */

export type SettingKind = 'string' | 'int' | 'number' | 'boolean' | 'list' | 'json';

export interface SettingSpec {
  /** Long flag without dashes, e.g. "max-batch-size"; the env name is INFINISST_<FLAG_IN_SNAKE_CASE>. */
  flag: string;
  /** Config path written, e.g. ["engine", "batching", "maxBatchSize"]; "*" = every array element. */
  path: readonly string[];
  kind: SettingKind;
  description: string;
  /** Extra flag spellings kept for the original's launch scripts. */
  flagAliases?: readonly string[];
  /** Extra environment names (the original's), read before INFINISST_*. */
  envAliases?: readonly string[];
}

export const settingsTable: readonly SettingSpec[] = [
  { flag: 'host', path: ['server', 'host'], kind: 'string', description: 'interface to bind (default 0.0.0.0)' },
  { flag: 'port', path: ['server', 'port'], kind: 'int', description: 'TCP port (default 8000; 0 = any free port)' },
  { flag: 'request-timeout-ms', path: ['server', 'requestTimeoutMs'], kind: 'int', description: 'time allowed to receive a whole HTTP request (default 30000)' },
  { flag: 'max-connections-per-address', path: ['server', 'maxConnectionsPerAddress'], kind: 'int', description: 'open connections one client address may hold (default 256; 0 = no cap)' },
  { flag: 'shutdown-grace-ms', path: ['server', 'shutdownGraceMs'], kind: 'number', description: 'time allowed to drain in-flight work on shutdown' },
  { flag: 'cors-origins', path: ['cors', 'origins'], kind: 'list', description: 'comma-separated web origins allowed besides the server\'s own pages ("*" = any site)' },
  { flag: 'admin-token', path: ['admin', 'token'], kind: 'string', description: 'token required by the reconfiguration routes (unset = open)' },
  { flag: 'static-dirs', path: ['paths', 'staticDirs'], kind: 'list', description: 'comma-separated candidate folders for the web client' },
  { flag: 'logs-dir', path: ['paths', 'logsDir'], kind: 'string', description: 'folder for log files' },
  { flag: 'export-dir', path: ['paths', 'exportDir'], kind: 'string', description: 'the only folder delay exports may write into' },
  { flag: 'log-level', path: ['logging', 'level'], kind: 'string', description: 'fatal|error|warn|info|debug|trace|silent' },
  { flag: 'log-pretty', path: ['logging', 'pretty'], kind: 'string', description: 'auto|always|never' },
  { flag: 'log-file', path: ['logging', 'toFile'], kind: 'boolean', description: 'also write logs/ray_infinisst_api_<timestamp>_<pid>.log (true|false)' },
  { flag: 'log-transcripts', path: ['logging', 'logTranscripts'], kind: 'boolean', description: 'include transcripts/translations in logs (true|false)' },
  { flag: 'max-sessions', path: ['sessions', 'maxActiveSessions'], kind: 'int', description: 'sessions translating at once; more wait in a queue' },
  { flag: 'max-queued-sessions', path: ['sessions', 'maxQueuedSessions'], kind: 'int', description: 'sessions allowed to wait for a slot' },
  { flag: 'idle-timeout-ms', path: ['sessions', 'idleTimeoutMs'], kind: 'int', description: 'delete a session after this long without ping or audio (default 300000)' },
  { flag: 'expose-session-ids', path: ['sessions', 'exposeSessionIds'], kind: 'boolean', description: 'show full session ids in /health and /debug to the operator (true|false)' },
  { flag: 'attach-grace-ms', path: ['sessions', 'attachGraceMs'], kind: 'int', description: 'release an active session that never opened its socket after this (default 30000; 0 = never)' },
  { flag: 'api-keys', path: ['realtime', 'apiKeys'], kind: 'list', description: 'comma-separated keys for /v1/realtime/translations (with admin.token; none = open)' },
  { flag: 'lag-interval-ms', path: ['websocket', 'lagIntervalMs'], kind: 'int', description: 'period of lag reports: realtime infinisst.lag events, /wss?lag=true LAG: frames (default 1000; 0 = never)' },
  { flag: 'max-frame-samples', path: ['websocket', 'maxFrameSamples'], kind: 'int', description: 'largest audio frame accepted, in samples' },
  { flag: 'models-dir', path: ['engine', 'modelsDir'], kind: 'string', description: 'folder holding the model packages' },
  { flag: 'models', path: ['engine', 'models'], kind: 'list', description: 'comma-separated package names to load (default: all)' },
  { flag: 'workers', path: ['engine', 'devices', '*', 'workers'], kind: 'int', description: 'inference workers per device group' },
  { flag: 'intra-op-threads', path: ['engine', 'devices', '*', 'intraOpThreads'], kind: 'int', description: 'onnxruntime threads per worker' },
  { flag: 'execution-providers', path: ['engine', 'executionProviders'], kind: 'list', description: 'provider preference, e.g. cuda,cpu (cpu, cuda, tensorrt, webgpu, dml, coreml)' },
  { flag: 'tls-cert', path: ['server', 'tlsCertFile'], kind: 'string', description: 'PEM certificate (chain) file: serve https/wss (with --tls-key)' },
  { flag: 'tls-key', path: ['server', 'tlsKeyFile'], kind: 'string', description: 'PEM private key file of --tls-cert' },
  { flag: 'openapi', path: ['server', 'openApi'], kind: 'boolean', description: 'serve the OpenAPI document at /openapi.json (true|false)' },
  { flag: 'require-providers', path: ['engine', 'requireProviders'], kind: 'boolean', description: 'fail start-up unless the first provider asked for loads (true|false); default: warn and fall back' },
  {
    flag: 'max-batch-size',
    path: ['engine', 'batching', 'maxBatchSize'],
    kind: 'int',
    description: 'largest batch (live-tunable via /ray/configure)',
    envAliases: ['MAX_BATCH_SIZE'],
  },
  {
    flag: 'max-wait-ms',
    path: ['engine', 'batching', 'maxWaitMs'],
    kind: 'number',
    description: 'longest wait to fill a batch (live-tunable)',
    flagAliases: ['batch-timeout-ms'],
    envAliases: ['BATCH_TIMEOUT_MS'],
  },
  { flag: 'max-queue-size', path: ['engine', 'batching', 'maxQueueSize'], kind: 'int', description: 'queued inference items before overload errors' },
  { flag: 'request-deadline-ms', path: ['engine', 'requestDeadlineMs'], kind: 'int', description: 'a worker that owes an answer and stays silent this long counts as hung (it is replaced); also the longest a chunk waits for a live worker' },
  { flag: 'beam-size', path: ['engine', 'beamSize'], kind: 'int', description: 'beam width override (1 = greedy)' },
  { flag: 'trust-proxy', path: ['server', 'trustProxy'], kind: 'string', description: 'take the client address from X-Forwarded-For: true (any peer), false, or the proxies\' addresses/CIDRs, comma-separated' },
  { flag: 'placement', path: ['engine', 'placement'], kind: 'string', description: 'session placement over device groups: least-loaded|round-robin|most-free-memory' },
  { flag: 'workers-per-gpu', path: ['engine', 'gpu', 'workersPerGpu'], kind: 'int', description: 'workers per GPU group derived from CUDA_VISIBLE_DEVICES' },
  {
    flag: 'gpu-language-map',
    path: ['engine', 'gpu', 'languagePairs'],
    kind: 'json',
    description: 'JSON map GPU index → pair(s), e.g. {"0":"English -> Chinese","1":["English -> German"]}',
  },
  { flag: 'instance-tag', path: ['cluster', 'instanceTag'], kind: 'string', description: 'tag appended to session ids so nginx routes them to this instance' },
  { flag: 'init-rate-per-minute', path: ['limits', 'initPerMinute'], kind: 'int', description: '/init + /load_model calls per minute per client address (default 120; 0 = unlimited)' },
  { flag: 'downloads-per-minute', path: ['limits', 'downloadsPerMinute'], kind: 'int', description: '/download_youtube calls per minute per client address (default 12; 0 = unlimited)' },
  { flag: 'max-sessions-per-client', path: ['limits', 'maxSessionsPerClient'], kind: 'int', description: 'open sessions per client_id (0 = unlimited)' },
  { flag: 'max-sessions-per-address', path: ['limits', 'maxSessionsPerAddress'], kind: 'int', description: 'open sessions per client address (0 = unlimited)' },
  { flag: 'max-session-duration-ms', path: ['limits', 'maxSessionDurationMs'], kind: 'int', description: 'close sessions this long after creation (0 = never)' },
  { flag: 'allow-fault-injection', path: ['admin', 'allowFaultInjection'], kind: 'boolean', description: 'enable the admin-only POST /debug/inject_fault drill route (true|false)' },
];

/** INFINISST_MAX_BATCH_SIZE for "max-batch-size". */
export function envNameOf(flag: string): string {
  return `INFINISST_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Converts a flag or env string to the setting's type; returns an error text instead of throwing. */
export function convertSetting(spec: SettingSpec, raw: string): { value: unknown } | { problem: string } {
  const text = raw.trim();
  switch (spec.kind) {
    case 'string':
      return { value: text };
    case 'list':
      return { value: text.split(',').map((item) => item.trim()).filter((item) => item.length > 0) };
    case 'int': {
      if (!/^[+-]?\d+$/.test(text)) return { problem: `expected an integer, got "${raw}"` };
      return { value: Number(text) };
    }
    case 'number': {
      const value = Number(text);
      if (text === '' || !Number.isFinite(value)) return { problem: `expected a number, got "${raw}"` };
      return { value };
    }
    case 'json': {
      try {
        return { value: JSON.parse(text) as unknown };
      } catch {
        return { problem: `expected JSON, got "${raw}"` };
      }
    }
    case 'boolean': {
      const lower = text.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) return { value: true };
      if (['false', '0', 'no', 'off'].includes(lower)) return { value: false };
      return { problem: `expected true or false, got "${raw}"` };
    }
  }
}
