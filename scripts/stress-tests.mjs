#!/usr/bin/env node
// npm run test:stress [-- file filters]: the test suite while two busy loops hold both cores, as
// a loaded CI machine would. The loops are this script's children, killed by PID on every way
// out (the suite ends, fails, Ctrl-C, SIGTERM, an error here); each loop also ends by itself as
// soon as this script is gone (it spins on `kill -0 <parent>`), so even a SIGKILL leaves none.
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const loops = [];
let suite;

function stopLoops() {
  for (const loop of loops.splice(0)) {
    try {
      process.kill(loop.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

process.on('exit', stopLoops);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stopLoops();
    suite?.kill(signal);
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}
process.on('uncaughtException', (error) => {
  stopLoops();
  console.error(error);
  process.exit(1);
});

for (let i = 0; i < 2; i++) {
  const loop = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do :; done`], { stdio: 'ignore' });
  loops.push(loop);
}
console.log(`test:stress: two busy loops (pids ${loops.map((loop) => loop.pid).join(', ')}) hold the CPU while the suite runs`);
const started = Date.now();
suite = spawn(process.execPath, [`${root}scripts/run-tests.mjs`, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
suite.on('exit', (code, signal) => {
  stopLoops();
  console.log(`test:stress: suite ${code === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`} under load in ${((Date.now() - started) / 1000).toFixed(0)} s; busy loops stopped`);
  process.exit(code ?? 1);
});
