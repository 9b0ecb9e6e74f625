/**
 * The only reader of configuration files and of `process.env` (passed in as `env`). Layers:
 * defaults < config file < environment < flags; parsed once with zod; every problem listed;
 * the result is deep-frozen.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SettingSpec } from './settings-table.ts';
import { convertSetting, envNameOf, settingsTable } from './settings-table.ts';
import { serverConfigSchema, type ServerConfig } from './schema.ts';
import { deriveGpuGroups, parseVisibleDevices } from './gpu-devices.ts';

/** Thrown when the configuration cannot be used; `problems` holds one line per problem. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], headline = 'invalid configuration') {
    super(`${headline}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ConfigSources {
  configPath: string | null;
  env: Readonly<Record<string, string | undefined>>;
  flagValues: ReadonlyMap<SettingSpec, string>;
  /** CPU cores available to this process (os.availableParallelism()). */
  cores: number;
  cwd: string;
  readFile?: (path: string) => string;
}

type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(target: Raw, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (!isRecord(child)) node[key] = {};
    node = node[key] as Raw;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const existing = out[key];
    out[key] = isRecord(existing) && isRecord(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Per-element overrides ("*" paths) cannot be merged as plain objects; they are applied last. */
interface ElementOverride {
  arrayPath: readonly string[];
  key: string;
  value: unknown;
}

function collectLayer(
  entries: Iterable<[SettingSpec, string, string]>,
  problems: string[],
): { layer: Raw; elementOverrides: ElementOverride[] } {
  const layer: Raw = {};
  const elementOverrides: ElementOverride[] = [];
  for (const [spec, raw, source] of entries) {
    const converted = convertSetting(spec, raw);
    if ('problem' in converted) {
      problems.push(`${source}: ${converted.problem}`);
      continue;
    }
    const star = spec.path.indexOf('*');
    if (star >= 0) {
      elementOverrides.push({ arrayPath: spec.path.slice(0, star), key: spec.path.slice(star + 1).join('.'), value: converted.value });
    } else {
      setPath(layer, spec.path, converted.value);
    }
  }
  return { layer, elementOverrides };
}

function envEntries(env: ConfigSources['env']): [SettingSpec, string, string][] {
  const out: [SettingSpec, string, string][] = [];
  for (const spec of settingsTable) {
    // The original's names first, so that INFINISST_* wins when both are set.
    for (const name of [...(spec.envAliases ?? []), envNameOf(spec.flag)]) {
      const value = env[name];
      if (value !== undefined && value !== '') out.push([spec, value, `environment ${name}`]);
    }
  }
  return out;
}

function readConfigFile(path: string, readFile: (path: string) => string): Raw {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error && error.code === 'ENOENT' ? 'file not found' : String(error);
    throw new ConfigError([`${path}: ${reason}. Create one with: npm start -- --create-default --config ${path}`], 'cannot read the config file');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`], 'cannot read the config file');
  }
  if (!isRecord(parsed)) throw new ConfigError([`${path}: the top level must be a JSON object`], 'cannot read the config file');
  return parsed;
}

function getPath(root: Raw, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of path) node = isRecord(node) ? node[key] : undefined;
  return node;
}

/** Builds the validated, frozen configuration; throws `ConfigError` listing every problem. */
export function loadConfig(sources: ConfigSources): ServerConfig {
  const problems: string[] = [];
  const readFile = sources.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const configPath = sources.configPath ?? sources.env.INFINISST_CONFIG ?? null;
  const fileLayer = configPath ? readConfigFile(resolve(sources.cwd, configPath), readFile) : {};

  const envLayer = collectLayer(envEntries(sources.env), problems);
  const flagLayer = collectLayer(
    [...sources.flagValues].map(([spec, raw]): [SettingSpec, string, string] => [spec, raw, `--${spec.flag}`]),
    problems,
  );
  let merged = deepMerge(deepMerge(fileLayer, envLayer.layer), flagLayer.layer);

  // The visible GPUs only mean something when CUDA is requested and devices are not explicit.
  const providers = getPath(merged, ['engine', 'executionProviders']);
  const wantsCuda = Array.isArray(providers) && providers.includes('cuda');
  const hasExplicitDevices = getPath(merged, ['engine', 'devices']) !== undefined;
  const gpuMap = getPath(merged, ['engine', 'gpu', 'languagePairs']);
  if (wantsCuda && !hasExplicitDevices) {
    const configured = getPath(merged, ['engine', 'gpu', 'visibleDevices']);
    const visible = Array.isArray(configured) ? configured.map(String) : parseVisibleDevices(sources.env.CUDA_VISIBLE_DEVICES);
    if (visible.length > 0) {
      const derived = deriveGpuGroups(visible.length, {
        workersPerGpu: getPath(merged, ['engine', 'gpu', 'workersPerGpu']),
        intraOpThreadsPerGpu: getPath(merged, ['engine', 'gpu', 'intraOpThreadsPerGpu']),
        languagePairs: gpuMap,
      });
      problems.push(...derived.problems);
      // Recorded so that the device-memory probe can map cuda:<n> back to the physical GPU.
      merged = deepMerge(merged, { engine: { devices: derived.groups, gpu: { visibleDevices: visible } } });
    }
  } else if (isRecord(gpuMap) && Object.keys(gpuMap).length > 0) {
    problems.push(
      hasExplicitDevices
        ? 'engine.gpu.languagePairs applies only to device groups derived from the visible GPUs; with engine.devices given, put languagePairs into each group instead'
        : 'engine.gpu.languagePairs needs CUDA: add --execution-providers cuda,cpu (and run where CUDA_VISIBLE_DEVICES lists the GPUs)',
    );
  }

  const overrides = [...envLayer.elementOverrides, ...flagLayer.elementOverrides];
  if (overrides.length > 0) {
    // Apply to the devices in force (from the file, or the defaults).
    const defaults = serverConfigSchema.parse({});
    for (const override of overrides) {
      const current = getPath(merged, override.arrayPath) ?? getPath(defaults as unknown as Raw, override.arrayPath);
      if (!Array.isArray(current)) continue;
      const updated = current.map((element: unknown) => (isRecord(element) ? { ...element, [override.key]: override.value } : element));
      setPath(merged, override.arrayPath, updated);
    }
  }

  const parsed = serverConfigSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      problems.push(`${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  problems.push(...crossFieldProblems(parsed.data, sources.cores));
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(parsed.data);
}

/** Rules spanning several fields; each message states the rule and the values given. */
export function crossFieldProblems(config: ServerConfig, cores: number): string[] {
  const problems: string[] = [];
  // CUDA workers mostly wait on the GPU; the oversubscription that hurts is CPU inference threads.
  const cpuThreads = config.engine.devices
    .filter((group) => group.device === 'cpu')
    .reduce((sum, group) => sum + group.workers * group.intraOpThreads, 0);
  if (cpuThreads > cores) {
    const detail = config.engine.devices
      .filter((group) => group.device === 'cpu')
      .map((group) => `${group.workers} × ${group.intraOpThreads}`)
      .join(' + ');
    problems.push(
      `engine.devices: workers × intraOpThreads over the cpu groups must be ≤ the ${cores} available cores, got ${detail} = ${cpuThreads}; lower --workers or --intra-op-threads`,
    );
  }
  const { streamHighWaterMs, streamMaxPendingMs } = config.engine;
  if (streamHighWaterMs > streamMaxPendingMs) {
    problems.push(`engine.streamHighWaterMs (${streamHighWaterMs}) must be ≤ engine.streamMaxPendingMs (${streamMaxPendingMs})`);
  }
  if (config.admin.allowFaultInjection && config.admin.token === null) {
    problems.push('admin.allowFaultInjection needs admin.token: the fault drill route must never be open to everyone');
  }
  const { maxBytes, cacheMaxBytes } = config.media.youtube;
  if (maxBytes > cacheMaxBytes) {
    problems.push(`media.youtube.maxBytes (${maxBytes}) must be ≤ media.youtube.cacheMaxBytes (${cacheMaxBytes}): a downloaded video must fit in the cache`);
  }
  return problems;
}

/** The defaults, as written by `--create-default`. */
export function defaultConfig(): ServerConfig {
  return serverConfigSchema.parse({});
}
