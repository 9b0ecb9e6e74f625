/**
 * A socket the server will not serve (unknown session id) costs nothing: the server says why
 * (close 4000), stops reading at once and cuts a peer that never acknowledges, instead of buffering
 * a frame of up to 16 MiB for 30 s per connection. Valid sessions' frames are capped at twice the
 * largest audio frame.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startServer } from './support/ops-harness.ts';

/** A raw client: upgrades by hand, then starts a 16 MiB binary frame and never answers a close. */
function hostileUpgrade(port: number, path: string): Promise<{ socket: Socket; closedAfterMs: Promise<number>; received: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      const started = performance.now();
      const closedAfterMs = new Promise<number>((done) => socket.once('close', () => done(performance.now() - started)));
      const header = Buffer.alloc(14);
      header[0] = 0x82; // FIN, binary
      header[1] = 0x80 | 127; // masked, 64-bit length
      header.writeBigUInt64BE(BigInt(16 * 1024 * 1024), 2);
      randomBytes(4).copy(header, 10);
      socket.write(header);
      socket.write(Buffer.alloc(2 * 1024 * 1024, 1));
      resolve({ socket, closedAfterMs, received: () => received });
    });
    socket.once('error', reject);
  });
}

test('an upgrade to an unknown session is refused at once and cannot hold a large buffer', async (t) => {
  const server = await startServer(t);
  const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => hostileUpgrade(server.port, `/wss/no_such_session_${i}`)));
  t.after(() => clients.forEach((client) => client.socket.destroy()));
  const closedAfter = await Promise.all(clients.map((client) => Promise.race([client.closedAfterMs, new Promise<number>((done) => setTimeout(() => done(Infinity), 10_000))])));
  for (const [index, ms] of closedAfter.entries()) {
    assert.ok(ms < 5_000, `connection ${index} was held ${ms} ms`);
    const reply = clients[index]?.received() ?? '';
    assert.match(reply, /^HTTP\/1\.1 101/);
    assert.ok(reply.includes('Invalid session ID'), 'the close frame says why');
  }
  assert.equal((await fetch(`${server.baseUrl}/health`)).status, 200);
});
