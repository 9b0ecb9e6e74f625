/**
 * Configuration of multi-GPU and multi-instance deployments: device groups from
 * CUDA_VISIBLE_DEVICES with a pair → GPU map, the problems reported for bad maps, the GPU memory
 * probe, instance-tagged session ids (routing, masking, the wrong-instance answer) and the nginx
 * configuration renderer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs, renderNginxConfig } from '../../deploy/nginx/render-config.ts';
import { parseCommandLine } from '../../src/cli.ts';
import { ConfigError, loadConfig } from '../../src/config/load-config.ts';
import { parseVisibleDevices } from '../../src/config/gpu-devices.ts';
import { DeviceMemoryProbe, parseNvidiaSmi } from '../../src/plugins/device-memory-probe.ts';
import { instanceTagOf, maskSessionId } from '../../src/sessions/session-id.ts';
import { post, startServer } from './support/ops-harness.ts';

function configFrom(argv: string[], env: Record<string, string> = {}) {
  const commandLine = parseCommandLine(argv);
  assert.deepEqual(commandLine.problems, []);
  return loadConfig({ configPath: null, env, flagValues: commandLine.flagValues, cores: 2, cwd: '/srv' });
}

function problemsOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

test('one device group per visible GPU, with the pair → GPU map and the placement strategy', () => {
  const config = configFrom(
    ['--execution-providers', 'cuda,cpu', '--gpu-language-map', '{"0":"English -> Chinese","1":["English -> German","English -> Italian"]}', '--placement', 'round-robin', '--workers-per-gpu', '2'],
    { CUDA_VISIBLE_DEVICES: '4,5,6' },
  );
  assert.deepEqual(config.engine.devices, [
    { device: 'cuda:0', workers: 2, intraOpThreads: 1, languagePairs: ['English -> Chinese'] },
    { device: 'cuda:1', workers: 2, intraOpThreads: 1, languagePairs: ['English -> German', 'English -> Italian'] },
    { device: 'cuda:2', workers: 2, intraOpThreads: 1 },
  ]);
  assert.deepEqual(config.engine.gpu.visibleDevices, ['4', '5', '6'], 'kept to map cuda:<n> to nvidia-smi rows');
  assert.equal(config.engine.placement, 'round-robin');
  assert.deepEqual(parseVisibleDevices('NoDevFiles'), []);
  assert.deepEqual(parseVisibleDevices(' 0, 1 ,'), ['0', '1']);
});

test('bad GPU maps and unsafe combinations are reported with what to do', () => {
  assert.match(problemsOf(() => configFrom(['--execution-providers', 'cuda', '--gpu-language-map', '{"2":"English -> Chinese"}'], { CUDA_VISIBLE_DEVICES: '0,1' })), /GPU index 2 is not visible \(2 GPUs visible/);
  assert.match(problemsOf(() => configFrom(['--gpu-language-map', '{"0":"English -> Chinese"}'])), /needs CUDA: add --execution-providers cuda,cpu/);
  assert.match(problemsOf(() => configFrom(['--gpu-language-map', '{"0":'])), /--gpu-language-map: expected JSON/);
  assert.match(problemsOf(() => configFrom(['--placement', 'random'])), /engine\.placement/);
  assert.match(problemsOf(() => configFrom(['--allow-fault-injection'])), /allowFaultInjection needs admin\.token/);
  assert.match(problemsOf(() => configFrom(['--instance-tag', 'Node-1'])), /cluster\.instanceTag/);
});

test('the GPU memory probe maps visible GPUs (index or UUID) to nvidia-smi rows; unknown stays null', async () => {
  const csv = '0, GPU-aaaa, 1000\n4, GPU-bbbb, 2048\n5, GPU-cccc, 4096\ngarbage\n';
  assert.equal(parseNvidiaSmi(csv).length, 3);
  const probe = new DeviceMemoryProbe({ visibleDevices: ['4', 'GPU-cccc'], query: async () => csv });
  await probe.poll();
  assert.equal(probe.freeMemoryBytes('cuda:0'), 2048 * 1024 * 1024);
  assert.equal(probe.freeMemoryBytes('cuda:1'), 4096 * 1024 * 1024);
  assert.equal(probe.freeMemoryBytes('cuda:2'), null);
  assert.ok((probe.freeMemoryBytes('cpu') ?? 0) > 0, 'cpu: free system memory');
  const missing = new DeviceMemoryProbe({ visibleDevices: [], query: async () => Promise.reject(Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' })) });
  await missing.poll();
  assert.equal(missing.freeMemoryBytes('cuda:0'), null);
});

test('a tagged instance ends its ids in .<tag>, masks only the secret part, and refuses other instances\' ids with 404', async (t) => {
  const { app, baseUrl } = await startServer(t, { config: { cluster: { instanceTag: 'n3' } } });
  const init = await post(baseUrl, '/init', { agent_type: 'InfiniSST', language_pair: 'English -> German', client_id: 'client_x' });
  const id = String(init.json?.session_id);
  assert.match(id, /^client_x_English -> German_\d+_[0-9a-z]{12}\.n3$/);
  assert.equal(instanceTagOf(id), 'n3');
  assert.equal(maskSessionId(id), `${id.slice(0, -15)}************.n3`);
  assert.equal(instanceTagOf('client_x_English -> German_1_abcdefghijkl'), undefined);

  const foreign = id.replace(/\.n3$/, '.n4');
  const byQuery = await post(baseUrl, '/ping', { session_id: foreign });
  assert.equal(byQuery.status, 404, 'not mine: nginx tries the next instance');
  assert.deepEqual([byQuery.json?.error, byQuery.json?.code], ['Invalid session ID', 'wrongInstance']);
  const byBody = await post(baseUrl, '/ping', {}, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session_id: foreign }) });
  assert.equal(byBody.status, 404);
  const byPath = await fetch(`${baseUrl}/queue_status/${encodeURIComponent(foreign)}`);
  assert.equal(byPath.status, 404);
  const ownUnknown = await post(baseUrl, '/ping', { session_id: id.replace(/[0-9a-z]{12}\.n3$/, 'zzzzzzzzzzzz.n3') });
  assert.deepEqual([ownUnknown.status, ownUnknown.json?.error], [200, 'Invalid session ID'], 'own tag: the original answer');
  assert.equal((await post(baseUrl, '/ping', { session_id: id })).json?.success, true);
  const byUser = await app.inject({ method: 'GET', url: '/session_delays_by_user?user_id=nobody&language_pair=English%20-%3E%20German' });
  assert.equal(byUser.statusCode, 404, 'by-user routes: another instance may have the session');
  const mine = await app.inject({ method: 'GET', url: `/session_delays_by_user?user_id=client_x&language_pair=English%20-%3E%20German&${new URLSearchParams({ session_id: id })}` });
  assert.equal(mine.json<{ success: boolean }>().success, true);
});

test('the nginx renderer routes by tag, spreads /init, and rejects values it would paste unchecked', () => {
  const text = renderNginxConfig({ listen: '8080', instances: [{ tag: 'n0', address: '10.0.0.1:8001' }, { tag: 'n1', address: 'node2:8001' }] });
  assert.match(text, /upstream infinisst_n1 \{\n\s+server node2:8001;/);
  assert.match(text, /n0 infinisst_n0;/);
  assert.match(text, /least_conn;/);
  assert.match(text, /proxy_next_upstream error timeout http_404 non_idempotent;/);
  assert.match(text, /limit_req zone=infinisst_init burst=60 nodelay;/);
  assert.doesNotMatch(text, /^worker_processes/m, 'conf.d include by default');
  assert.match(renderNginxConfig({ listen: '8080', instances: [{ tag: 'n0', address: 'h:1' }], standalonePrefix: '/tmp/x' }), /^pid \/tmp\/x\/nginx\.pid;/m);
  assert.throws(() => renderNginxConfig({ listen: '8080', instances: [{ tag: 'N0; evil', address: 'h:1' }] }), /instance tag "N0; evil"/);
  assert.throws(() => renderNginxConfig({ listen: '8080', instances: [{ tag: 'n0', address: 'h:1;include /etc' }] }), /HOST:PORT/);
  assert.throws(() => renderNginxConfig({ listen: '8080', instances: [] }), /at least one/);
  assert.deepEqual(parseArgs(['--listen', '9000', '--instance', 'n0=h:1']).instances, [{ tag: 'n0', address: 'h:1' }]);
});
