/**
 * Process entry: read the command line and config, create the logger, the engine and the app,
 * listen, and shut down gracefully on SIGINT/SIGTERM. Every start-up failure ends in one clear
 * message saying what to do, and a non-zero exit code.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { buildApp } from './app.ts';
import { helpText, parseCommandLine } from './cli.ts';
import { toEngineOptions } from './config/engine-options.ts';
import { ConfigError, defaultConfig, loadConfig } from './config/load-config.ts';
import type { ServerConfig } from './config/schema.ts';
import { isAppError } from './errors.ts';
import { createEngine } from './inference/engine/engine.ts';
import { createLogger } from './logging.ts';
import { createYoutubeDownloader } from './media/media-services.ts';
import type { YoutubeDownloader } from './media/youtube-downloader.ts';
import { DeviceMemoryProbe } from './plugins/device-memory-probe.ts';
import { shutdownGracefully } from './plugins/graceful-shutdown.ts';

function fail(message: string): number {
  process.stderr.write(`infinisst-serve: ${message}\n`);
  return 1;
}

/**
 * Every default, except the device groups: left out, they come from the machine at start-up (one
 * CPU group, or one group per visible GPU when CUDA is asked for). Written down, a copied file
 * would pin every deployment to the CPU whatever --execution-providers says.
 */
function writtenDefaults(): Record<string, unknown> {
  const config = defaultConfig();
  const { devices: _devices, ...engine } = config.engine;
  return { ...config, engine };
}

function writeDefaultConfig(path: string, cwd: string): number {
  const target = resolve(cwd, path);
  if (existsSync(target)) return fail(`${target} already exists; delete it or choose another --config path`);
  mkdirSync(resolve(target, '..'), { recursive: true });
  writeFileSync(target, `${JSON.stringify(writtenDefaults(), null, 2)}\n`);
  process.stdout.write(`wrote the default configuration to ${target}\n`);
  return 0;
}

function ensureFolders(config: ServerConfig, cwd: string): void {
  for (const dir of [config.paths.logsDir, config.paths.exportDir]) mkdirSync(resolve(cwd, dir), { recursive: true });
}

/** "engine.devices[1] (cuda:1): English -> Germn" for every group pair without a model. */
function unservedGroupPairs(config: ServerConfig, served: readonly string[]): string[] {
  return config.engine.devices.flatMap((group, index) =>
    (group.languagePairs ?? [])
      .filter((pair) => !served.includes(pair))
      .map((pair) => `engine.devices[${index}] (${group.device}): "${pair}" (served: ${served.join(', ')})`),
  );
}

function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'EADDRINUSE';
}

/**
 * The certificate and key when TLS is configured, null when not, or what is wrong with them, said
 * before any model loads. (A key that does not match its certificate is reported by listen().)
 */
function readTlsFiles(config: ServerConfig, cwd: string): { cert: Buffer; key: Buffer } | null | string {
  const { tlsCertFile, tlsKeyFile } = config.server;
  if (tlsCertFile === null || tlsKeyFile === null) return null;
  const files = { cert: resolve(cwd, tlsCertFile), key: resolve(cwd, tlsKeyFile) };
  try {
    return { cert: readFileSync(files.cert), key: readFileSync(files.key) };
  } catch (error) {
    return `cannot read the TLS certificate or key (--tls-cert ${files.cert}, --tls-key ${files.key}): ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * Binds the port for a moment and lets it go: with real models, loading takes minutes, and a port
 * already in use should be said before that, not after. (Port 0 picks a free one: nothing to check.
 * Another process may still take the port in between; listen() then reports it.)
 */
function portProblem(host: string, port: number): Promise<string | null> {
  if (port === 0) return Promise.resolve(null);
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', (error) => done(isAddressInUse(error) ? `port ${port} on ${host} is already in use: stop the other server or choose another port with --port N` : `cannot listen on ${host}:${port}: ${error.message}`));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done(null)));
  });
}

/**
 * CUDA asked for, but no device group is a GPU: a config that lists only cpu groups (a copy of an
 * old default), or no GPU visible. Everything would then run on the CPU without a word.
 */
function cudaWithoutGpuGroup(config: ServerConfig): string | null {
  if (!config.engine.executionProviders?.includes('cuda')) return null;
  if (config.engine.devices.some((group) => group.device.startsWith('cuda:'))) return null;
  return 'CUDA is asked for (engine.executionProviders) but every device group is a CPU group, so the models run on the CPU: '
    + 'remove engine.devices from the config to get one group per GPU in CUDA_VISIBLE_DEVICES (none is visible now, or engine.devices lists only cpu), or name cuda:<n> groups';
}

/** A second identical signal within this long is the same request (a terminal and a process manager both sending it). */
const DUPLICATE_SIGNAL_MS = 1_000;

/** The one line that says the server is up and how: URL, pairs, devices, admission, admin token. */
function readyLine(address: string, engine: Awaited<ReturnType<typeof createEngine>>, config: ServerConfig, maxActiveSessions: number): string {
  const pairs = engine.languagePairs().map((info) => `${info.languagePair} (${info.modelName}, ${info.provider})`).join(', ');
  const devices = engine.deviceLoads().map((load) => `${load.device} ×${load.workers}`).join(', ');
  return `ready: ${address} | pairs: ${pairs} | devices: ${devices} | up to ${maxActiveSessions} sessions | admin token ${config.admin.token === null ? 'not set' : 'set'}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const cwd = process.cwd();
  const commandLine = parseCommandLine(argv);
  if (commandLine.action === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  if (commandLine.problems.length > 0) {
    // A usage error, as every script reports one: a line per problem, exit 2.
    process.stderr.write(commandLine.problems.map((problem) => `infinisst-serve: ${problem.replace(/ \(see --help\)$/, '')} (see --help)\n`).join(''));
    return 2;
  }
  if (commandLine.action === 'create-default' && commandLine.configPath) return writeDefaultConfig(commandLine.configPath, cwd);

  let config: ServerConfig;
  try {
    config = loadConfig({ configPath: commandLine.configPath, env: process.env, flagValues: commandLine.flagValues, cores: availableParallelism(), cwd });
  } catch (error) {
    if (error instanceof ConfigError) return fail(`${error.message}\nFix these settings (config file, INFINISST_* environment or flags; see --help).`);
    throw error;
  }

  const modelsDir = resolve(cwd, config.engine.modelsDir);
  if (!existsSync(modelsDir) || !statSync(modelsDir).isDirectory()) {
    return fail(`models folder ${modelsDir} does not exist: run "npm run generate:models" for the default models, or point --models-dir at your model packages`);
  }
  const cudaProblem = cudaWithoutGpuGroup(config);
  if (cudaProblem && config.engine.requireProviders) return fail(`${cudaProblem}; --require-providers is set, so the server does not start`);
  if (cudaProblem) process.stderr.write(`infinisst-serve: WARNING: ${cudaProblem}\n`);
  const busy = await portProblem(config.server.host, config.server.port);
  if (busy) return fail(busy);
  const tls = readTlsFiles(config, cwd);
  if (typeof tls === 'string') return fail(tls);
  ensureFolders(config, cwd);
  const { logger, logFile } = createLogger(config, cwd);
  if (cudaProblem) logger.warn(cudaProblem);
  logger.info({ logFile, host: config.server.host, port: config.server.port }, 'starting');
  if (config.cors.origins.includes('*') && config.admin.token === null) {
    logger.warn('cors.origins is "*" and no admin.token is set: any web page a user opens can reconfigure this server and drive its routes; set admin.token or list the origins you serve');
  }

  const memoryProbe = new DeviceMemoryProbe({ visibleDevices: config.engine.gpu.visibleDevices ?? [], logger });
  memoryProbe.start(config.engine.devices.some((group) => group.device.startsWith('cuda:')));
  let engine;
  try {
    engine = await createEngine({ ...toEngineOptions(config, cwd, logger), freeMemoryBytes: (device) => memoryProbe.freeMemoryBytes(device) });
  } catch (error) {
    memoryProbe.stop();
    logger.flush();
    if (isAppError(error)) return fail(`cannot load the models: ${error.message}`);
    throw error;
  }
  logger.info({ languagePairs: engine.languagePairs(), devices: engine.deviceLoads(), placement: config.engine.placement }, 'models loaded');
  const unserved = unservedGroupPairs(config, engine.languagePairs().map((info) => info.languagePair));
  if (unserved.length > 0) {
    memoryProbe.stop();
    await engine.close(0);
    return fail(`device groups name language pairs no loaded model serves:\n${unserved.map((line) => `  - ${line}`).join('\n')}\nFix engine.devices[].languagePairs or engine.gpu.languagePairs (--gpu-language-map).`);
  }

  let downloader: YoutubeDownloader | undefined;
  if (config.media.youtube.enabled) {
    const { enabled: _enabled, requireKnownSession: _known, ...settings } = config.media.youtube;
    downloader = await createYoutubeDownloader({ ...settings, cacheDir: resolve(cwd, settings.cacheDir) }, { logger });
  }

  const app = await buildApp(config, { engine, logger, cwd, ...(downloader ? { youtubeDownloader: downloader } : {}), ...(tls ? { tls } : {}) });
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (error) {
    await app.close().catch(() => undefined);
    await engine.close(0);
    memoryProbe.stop();
    await downloader?.close();
    if (isAddressInUse(error)) {
      return fail(`port ${config.server.port} on ${config.server.host} is already in use: stop the other server or choose another port with --port N`);
    }
    return fail(`cannot listen on ${config.server.host}:${config.server.port}: ${error instanceof Error ? error.message : String(error)}`);
  }

  const address = app.server.address();
  // Bound to every interface (the default 0.0.0.0): say a URL a browser on this machine opens.
  const isWildcard = typeof address === 'object' && address !== null && (address.address === '0.0.0.0' || address.address === '::');
  const host = typeof address !== 'object' || address === null ? '' : isWildcard ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = typeof address === 'object' && address !== null ? `${tls ? 'https' : 'http'}://${host}:${address.port}` : String(address);
  logger.info({ url, pid: process.pid }, readyLine(`${url}${isWildcard ? ' (all interfaces)' : ''}`, engine, config, app.sessions.maxActiveSessions));

  let firstSignal: { signal: NodeJS.Signals; atMs: number } | null = null;
  let isShutDown = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Drained already: the process is on its way out with status 0; nothing left to cut short.
    if (isShutDown) return;
    if (firstSignal) {
      if (signal === firstSignal.signal && Date.now() - firstSignal.atMs < DUPLICATE_SIGNAL_MS) {
        logger.info({ signal }, 'the same signal again within a second: already shutting down');
        return;
      }
      logger.warn({ signal }, 'second signal: exiting immediately');
      process.exit(1);
    }
    firstSignal = { signal, atMs: Date.now() };
    logger.info({ signal }, 'signal received');
    void shutdownGracefully(app, { engine, graceMs: config.server.shutdownGraceMs })
      .then(() => memoryProbe.stop())
      .then(() => downloader?.close())
      .finally(() => {
        isShutDown = true;
        logger.flush();
        process.exitCode = 0;
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`infinisst-serve: unexpected start-up failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
