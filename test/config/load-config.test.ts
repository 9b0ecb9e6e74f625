import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helpText, parseCommandLine } from '../../src/cli.ts';
import { toEngineOptions } from '../../src/config/engine-options.ts';
import { ConfigError, defaultConfig, loadConfig, type ConfigSources } from '../../src/config/load-config.ts';
import { settingsTable } from '../../src/config/settings-table.ts';
import { readFileSync } from 'node:fs';

function sources(overrides: Partial<ConfigSources> & { argv?: string[]; files?: Record<string, string> } = {}): ConfigSources {
  const commandLine = parseCommandLine(overrides.argv ?? []);
  const files = overrides.files ?? {};
  return {
    configPath: overrides.configPath ?? commandLine.configPath,
    env: overrides.env ?? {},
    flagValues: overrides.flagValues ?? commandLine.flagValues,
    cores: overrides.cores ?? 2,
    cwd: '/srv',
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return text;
    },
  };
}

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

test('defaults: 0.0.0.0:8000, two cpu workers with one thread each, batching 32 / 100 ms, 300 s idle timeout', () => {
  const config = loadConfig(sources());
  assert.equal(config.server.host, '0.0.0.0');
  assert.equal(config.server.port, 8000);
  assert.deepEqual(config.engine.devices, [{ device: 'cpu', workers: 2, intraOpThreads: 1 }]);
  assert.deepEqual(config.engine.batching, { maxBatchSize: 32, maxWaitMs: 100, maxQueueSize: 1024 });
  assert.equal(config.sessions.idleTimeoutMs, 300_000);
  assert.ok(Object.isFrozen(config.engine.batching), 'deep-frozen');
  assert.deepEqual(config, defaultConfig());
});

test('precedence: file < environment < flags', () => {
  const file = JSON.stringify({ server: { port: 9000, host: '127.0.0.1' }, engine: { batching: { maxBatchSize: 8 } } });
  const fromFile = loadConfig(sources({ configPath: 'c.json', files: { '/srv/c.json': file } }));
  assert.equal(fromFile.server.port, 9000);
  const fromEnv = loadConfig(sources({ configPath: 'c.json', files: { '/srv/c.json': file }, env: { INFINISST_PORT: '9100', MAX_BATCH_SIZE: '16' } }));
  assert.equal(fromEnv.server.port, 9100);
  assert.equal(fromEnv.engine.batching.maxBatchSize, 16, "the original's MAX_BATCH_SIZE");
  const fromFlags = loadConfig(sources({ argv: ['--config', 'c.json', '--port', '9200', '--batch-timeout-ms=5'], files: { '/srv/c.json': file }, env: { INFINISST_PORT: '9100' } }));
  assert.equal(fromFlags.server.port, 9200);
  assert.equal(fromFlags.server.host, '127.0.0.1');
  assert.equal(fromFlags.engine.batching.maxWaitMs, 5);
  const envWins = loadConfig(sources({ env: { MAX_BATCH_SIZE: '16', INFINISST_MAX_BATCH_SIZE: '4' } }));
  assert.equal(envWins.engine.batching.maxBatchSize, 4, 'INFINISST_* beats the original name');
});

test('every problem is listed at once, with its source', () => {
  const problems = problemsOf(() =>
    loadConfig(sources({ argv: ['--port', 'eighty', '--log-level', 'loud'], env: { INFINISST_MAX_SESSIONS: '0' } })),
  );
  assert.ok(problems.some((problem) => problem.startsWith('--port: expected an integer')), problems.join('\n'));
  assert.ok(problems.some((problem) => problem.startsWith('logging.level')), problems.join('\n'));
  assert.ok(problems.some((problem) => problem.startsWith('sessions.maxActiveSessions')), problems.join('\n'));
});

test('an unknown execution provider is refused with the names that exist', () => {
  const problems = problemsOf(() => loadConfig(sources({ argv: ['--execution-providers', 'gpu,cpu'] })));
  assert.match(problems.join('\n'), /engine\.executionProviders.*unknown execution provider "gpu": one of cpu, cuda, tensorrt, webgpu, dml, coreml/);
  assert.deepEqual(loadConfig(sources({ argv: ['--execution-providers', 'cuda,cpu', '--require-providers', 'true'] })).engine.requireProviders, true);
});

test('config/default.json leaves the device groups to the machine, so CUDA finds its GPUs', () => {
  const written = JSON.parse(readFileSync('config/default.json', 'utf8')) as { engine: Record<string, unknown> };
  assert.equal(written.engine.devices, undefined);
  const file = { '/srv/default.json': JSON.stringify(written) };
  const cuda = loadConfig(sources({ configPath: 'default.json', files: file, env: { CUDA_VISIBLE_DEVICES: '0' }, argv: ['--execution-providers', 'cuda,cpu'] }));
  assert.deepEqual(cuda.engine.devices.map((group) => group.device), ['cuda:0']);
  const cpu = loadConfig(sources({ configPath: 'default.json', files: file }));
  assert.deepEqual(cpu.engine.devices, [{ device: 'cpu', workers: 2, intraOpThreads: 1 }]);
});

test('a misspelt key and a bad JSON file are reported clearly', () => {
  const typo = problemsOf(() => loadConfig(sources({ configPath: 'c.json', files: { '/srv/c.json': '{"server":{"prot":1}}' } })));
  assert.match(typo.join('\n'), /server.*prot/);
  const broken = problemsOf(() => loadConfig(sources({ configPath: 'c.json', files: { '/srv/c.json': '{' } })));
  assert.match(broken.join('\n'), /not valid JSON/);
  const missing = problemsOf(() => loadConfig(sources({ configPath: 'nope.json' })));
  assert.match(missing.join('\n'), /file not found.*--create-default --config \/srv\/nope\.json/);
});

test('cross-field rule: workers × intra-op threads must fit the cores, stated with the values given', () => {
  const problems = problemsOf(() => loadConfig(sources({ argv: ['--workers', '2', '--intra-op-threads', '2'], cores: 2 })));
  assert.match(problems.join('\n'), /≤ the 2 available cores, got 2 × 2 = 4/);
  const ok = loadConfig(sources({ argv: ['--workers', '2', '--intra-op-threads', '1'], cores: 2 }));
  assert.deepEqual(ok.engine.devices, [{ device: 'cpu', workers: 2, intraOpThreads: 1 }]);
});

test('CUDA_VISIBLE_DEVICES makes one cuda group per GPU only when cuda is requested', () => {
  const ignored = loadConfig(sources({ env: { CUDA_VISIBLE_DEVICES: '4,5' } }));
  assert.equal(ignored.engine.devices[0]?.device, 'cpu');
  const cuda = loadConfig(sources({ env: { CUDA_VISIBLE_DEVICES: '4,5' }, argv: ['--execution-providers', 'cuda,cpu'] }));
  assert.deepEqual(cuda.engine.devices.map((group) => group.device), ['cuda:0', 'cuda:1']);
});

test('engine options are derived from the config', () => {
  const options = toEngineOptions(loadConfig(sources({ argv: ['--models-dir', 'm', '--beam-size', '2'] })), '/srv');
  assert.equal(options.modelsDir, '/srv/m');
  assert.equal(options.beamSize, 2);
  assert.equal(options.streamHighWaterMs, 20_000);
  assert.equal(options.streamMaxPendingMs, 60_000);
  assert.equal(options.requestDeadlineMs, 30_000);
});

test('command line: help, create-default, unknown options and missing values', () => {
  assert.equal(parseCommandLine(['--help']).action, 'help');
  assert.equal(parseCommandLine(['--create-default', '--config', 'x.json']).action, 'create-default');
  assert.match(parseCommandLine(['--create-default']).problems.join(), /needs --config/);
  assert.match(parseCommandLine(['--bogus']).problems.join(), /unknown option --bogus/);
  assert.match(parseCommandLine(['--port']).problems.join(), /--port needs a value/);
  assert.equal(parseCommandLine(['--log-transcripts']).problems.length, 0, 'booleans may stand alone');
  const help = helpText();
  for (const spec of settingsTable) assert.ok(help.includes(`--${spec.flag}`), spec.flag);
  assert.match(help, /--create-default/);
});

test('config/default.json is exactly the defaults (regenerate with --create-default when the schema changes)', async () => {
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8');
  const config = loadConfig(sources({ configPath: 'default.json', files: { '/srv/default.json': text } }));
  assert.deepEqual(config, defaultConfig());
});
