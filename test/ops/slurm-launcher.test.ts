/**
 * The SLURM launcher (scripts/slurm/infinisst-api.sbatch) run with bash and SLURM_* variables (no
 * SLURM here): it picks a free port, starts the real server, waits for /health, writes the
 * endpoint file and the tunnel hint, and on SIGTERM shuts the server down gracefully while a
 * stream is active, exiting 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSession, speechSamples, StreamClient } from './support/ops-harness.ts';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the sbatch script starts the server, reports where it is, and stops it gracefully on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'infinisst-slurm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logsDir = join(dir, 'logs');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SLURM_JOB_ID: '4242',
    SLURM_PROCID: '0',
    SLURMD_NODENAME: 'node07',
    SLURM_SUBMIT_HOST: 'login1',
    SLURM_SUBMIT_DIR: process.cwd(),
    USER: 'alice',
    CUDA_VISIBLE_DEVICES: '',
    INFINISST_HOST: '127.0.0.1',
    INFINISST_LOGS_DIR: logsDir,
    INFINISST_EXPORT_DIR: join(dir, 'exports'),
    INFINISST_WORKERS: '1',
    INFINISST_INTRA_OP_THREADS: '1',
    INFINISST_STOP_TIMEOUT_S: '30',
  };
  const job = spawn('bash', ['scripts/slurm/infinisst-api.sbatch'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  job.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  job.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => job.once('exit', (code) => resolve(code)));
  let serverPid = 0;
  t.after(() => {
    if (job.exitCode === null) job.kill('SIGKILL');
    if (serverPid > 0 && isAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
  });

  // Started and reachable; the launcher says how to tunnel to it.
  // The tunnel hint is the line after "ready:" and may arrive in a later chunk of output.
  while (!/ready: http:\/\/node07:\d+\/[\s\S]*ssh -N -L/.test(output)) {
    if (job.exitCode !== null) assert.fail(`launcher exited early:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  serverPid = Number(/server pid (\d+)/.exec(output)?.[1]);
  const port = Number(/ready: http:\/\/node07:(\d+)\//.exec(output)?.[1]);
  assert.ok(port > 0 && serverPid > 0);
  assert.match(output, new RegExp(`ssh -N -L 8000:node07:${port} alice@login1`));
  const endpointFile = join(logsDir, 'infinisst-api_4242_0.endpoint');
  assert.equal(readFileSync(endpointFile, 'utf8').trim(), `http://node07:${port}`);
  const baseUrl = `http://127.0.0.1:${port}`;
  const health = await fetch(`${baseUrl}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'healthy');
  const ready = await fetch(`${baseUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(((await ready.json()) as { status: string }).status, 'ready');

  // A stream is active when the job is told to stop.
  const id = await createSession(baseUrl);
  const client = await StreamClient.open(t, baseUrl, id);
  await client.waitFor((frame) => frame.startsWith('READY'));
  client.sendAudio((await speechSamples()).subarray(0, 16_000 * 4));
  job.kill('SIGTERM');

  assert.equal(await exited, 0, `graceful exit status 0:\n${output}`);
  assert.equal(await client.waitForClose(), 1001, 'the client is told the server goes away');
  assert.ok(client.frames.some((frame) => frame.startsWith('ERROR: Server is shutting down')), 'the client is told first');
  assert.match(output, /server exited with status 0/);
  assert.equal(isAlive(serverPid), false, 'the server process is gone');
  assert.equal(existsSync(endpointFile), false, 'the endpoint file is removed');
  const logFile = readdirSync(logsDir).find((name) => name.startsWith('ray_infinisst_api_'));
  assert.ok(logFile, 'the server wrote its log file into the logs folder');
  assert.match(readFileSync(join(logsDir, logFile), 'utf8'), /shutdown complete/);
});
