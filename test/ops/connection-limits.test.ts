/**
 * Descriptors cannot be exhausted from one address: a request whose body never arrives is timed
 * out, and one address cannot hold more than its share of connections while /health keeps
 * answering others.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startServer } from './support/ops-harness.ts';

/** Opens a TCP connection from `localAddress`; resolves once connected, or with null if it was refused or reset. */
function open(port: number, localAddress: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

function closed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString()));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(received));
  });
}

test('a request whose body never arrives is answered 408 and closed after requestTimeoutMs', async (t) => {
  const server = await startServer(t, { config: { server: { requestTimeoutMs: 1_000 } } });
  const socket = await open(server.port, '127.0.0.1');
  assert.ok(socket);
  t.after(() => socket.destroy());
  const started = performance.now();
  socket.write('POST /ping HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"session_id":');
  const reply = await closed(socket);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 10_000, `closed after ${elapsed.toFixed(0)} ms`);
  assert.match(reply, /^HTTP\/1\.1 408/);
});

test('one address cannot hold more than maxConnectionsPerAddress connections; others are still served', async (t) => {
  const cap = 20;
  const held: Socket[] = [];
  // Registered first so it runs before the server's own close, which waits for open connections.
  t.after(() => held.forEach((socket) => socket.destroy()));
  const server = await startServer(t, { config: { server: { maxConnectionsPerAddress: cap } } });
  // The attacker: 127.0.0.2 opens connections and sends half a request on each.
  let refused = 0;
  for (let i = 0; i < cap + 30; i++) {
    const socket = await open(server.port, '127.0.0.2');
    if (!socket) {
      refused++;
      continue;
    }
    held.push(socket);
    socket.on('error', () => undefined);
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const alive = held.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;
  assert.ok(alive <= cap, `${alive} connections from one address stayed open (cap ${cap}); ${refused} refused at connect`);
  // Everyone else (127.0.0.1) is served.
  const health = await fetch(`${server.baseUrl}/health`);
  assert.equal(health.status, 200);
  for (const socket of held) socket.destroy();
});
