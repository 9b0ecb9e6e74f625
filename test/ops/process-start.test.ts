/**
 * The server as an operator runs it: `bin/infinisst-serve` is the process that receives signals
 * (no npm or tsx wrapper), a repeated signal is one request to drain, a busy port is reported
 * before any model is loaded, and one "ready" line says how the server came up.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { until } from '../app/wait.ts';
import { opensslSkip, selfSignedCertificate } from '../support/tls.ts';

const flags = ['--host', '127.0.0.1', '--workers', '1', '--log-file', 'false', '--log-pretty', 'never'];

function start(t: TestContext, args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn('bin/infinisst-serve', [...flags, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CUDA_VISIBLE_DEVICES: '' } });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => text, exited };
}

test('the production start is the signalled process: SIGTERM twice in a moment drains once, clients get 1001, exit 0', async (t) => {
  const { child, output, exited } = start(t, ['--port', '0']);
  await until(() => /"msg":"ready: /.test(output()) || child.exitCode !== null, 'the ready line');
  const ready = output().split('\n').find((line) => line.includes('"msg":"ready: ')) ?? '';
  const entry = JSON.parse(ready) as { msg: string; url: string; pid: number };
  assert.equal(entry.pid, child.pid, 'exec: the PID started is the server itself');
  assert.match(entry.msg, /^ready: http:\/\/127\.0\.0\.1:\d+ \| pairs: .*English -> German \(tiny-en-de, cpu\).* \| devices: cpu ×1 \| up to \d+ sessions \| admin token not set$/);

  const init = await fetch(`${entry.url}/init?agent_type=InfiniSST&language_pair=English+-%3E+German`, { method: 'POST' });
  const { session_id: id } = (await init.json()) as { session_id: string };
  const socket = new WebSocket(`${entry.url.replace('http', 'ws')}/wss/${encodeURIComponent(id)}`);
  t.after(() => socket.terminate());
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('message', () => resolve());
    socket.once('error', reject);
  });

  // A chunk in flight keeps the drain busy for a moment; the duplicate comes as soon as the first
  // signal has been seen (as when a terminal and a process manager both send one).
  socket.send(Buffer.from(new Float32Array(15_360 * 4).fill(0.01).buffer));
  await new Promise((resolve) => setTimeout(resolve, 20));
  process.kill(child.pid ?? 0, 'SIGTERM');
  await until(() => output().includes('"msg":"signal received"'), 'the first signal handled');
  try {
    process.kill(child.pid ?? 0, 'SIGTERM');
  } catch {
    // Already gone: the drain was quicker than the duplicate.
  }
  const code = await exited;
  assert.equal(code, 0, `exit ${code}\n${output()}`);
  assert.equal(await closed, 1001, 'the client was told the server goes away');
  assert.doesNotMatch(output(), /second signal: exiting immediately/);
  assert.equal(output().split('"msg":"signal received"').length - 1, 1, 'one drain');
});

test('a port already in use is reported before any model is loaded', async (t) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.after(() => holder.close());
  const port = (holder.address() as AddressInfo).port;
  const { output, exited } = start(t, ['--port', String(port)]);
  assert.equal(await exited, 1);
  assert.match(output(), new RegExp(`infinisst-serve: port ${port} on 127\\.0\\.0\\.1 is already in use: stop the other server or choose another port with --port N`));
  assert.doesNotMatch(output(), /model memory check|workers started|"msg":"starting"/, 'nothing was loaded');
});

test('CUDA asked for with no GPU group is said loudly, and with --require-providers the server does not start', async (t) => {
  // No GPU is visible here (CUDA_VISIBLE_DEVICES empty), so every group is a CPU group.
  const env = { ...process.env, CUDA_VISIBLE_DEVICES: '' };
  const strict = spawn('bin/infinisst-serve', [...flags, '--port', '0', '--execution-providers', 'cuda,cpu', '--require-providers', 'true'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let strictOutput = '';
  strict.stderr.on('data', (chunk: Buffer) => (strictOutput += chunk.toString()));
  strict.stdout.on('data', (chunk: Buffer) => (strictOutput += chunk.toString()));
  const strictCode = await new Promise<number | null>((resolve) => strict.once('exit', resolve));
  assert.equal(strictCode, 1, strictOutput);
  assert.match(strictOutput, /infinisst-serve: CUDA is asked for \(engine\.executionProviders\) but every device group is a CPU group, so the models run on the CPU: .*; --require-providers is set, so the server does not start/);
  assert.doesNotMatch(strictOutput, /model memory check/, 'refused before loading anything');

  const { child, output } = start(t, ['--port', '0', '--execution-providers', 'cuda,cpu']);
  await until(() => /"msg":"ready: /.test(output()) || child.exitCode !== null, 'the ready line');
  assert.match(output(), /infinisst-serve: WARNING: CUDA is asked for/);
  child.kill('SIGTERM');
});

test('with --tls-cert and --tls-key the server speaks https and wss; unreadable files are said before any model loads', { skip: opensslSkip }, async (t) => {
  const certificate = selfSignedCertificate(t);
  const { child, output } = start(t, ['--port', '0', '--tls-cert', certificate.certFile, '--tls-key', certificate.keyFile]);
  await until(() => /"msg":"ready: /.test(output()) || child.exitCode !== null, 'the ready line');
  const entry = JSON.parse(output().split('\n').find((line) => line.includes('"msg":"ready: ')) ?? '{}') as { url: string };
  assert.match(entry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const socket = new WebSocket(`${entry.url.replace('https', 'wss')}/v1/realtime/translations?model=tiny-en-de`, { ca: certificate.cert });
  t.after(() => socket.terminate());
  const first = await new Promise<string>((resolve, reject) => {
    socket.once('message', (data: Buffer) => resolve(data.toString()));
    socket.once('error', reject);
  });
  assert.equal((JSON.parse(first) as { type: string }).type, 'session.created');
  child.kill('SIGTERM');

  const missing = start(t, ['--port', '0', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', certificate.keyFile]);
  assert.equal(await missing.exited, 1);
  assert.match(missing.output(), /cannot read the TLS certificate or key \(--tls-cert \/nonexistent\/cert\.pem, --tls-key .*\): ENOENT/);
  assert.doesNotMatch(missing.output(), /model memory check|workers started/, 'nothing was loaded');
  const half = start(t, ['--port', '0', '--tls-cert', certificate.certFile]);
  assert.equal(await half.exited, 1);
  assert.match(half.output(), /server.tlsCertFile and server.tlsKeyFile \(--tls-cert, --tls-key\) go together: set both or neither/);
});
