/**
 * Caps the TCP connections one client address may hold open. Without it, ~20,000 connections that
 * never finish a request exhausted the process's descriptors and /health stopped answering. The
 * address is the socket's peer (a proxy in front counts as one client: raise the cap or set 0).
 */
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/** Counts refusals per address between log lines, so a flood yields one line, not thousands. */
const LOG_EVERY_MS = 10_000;

export function capConnectionsPerAddress(server: Server, maxPerAddress: number, logger?: Pick<Logger, 'warn'>): void {
  if (maxPerAddress <= 0) return;
  const open = new Map<string, number>();
  const refused = new Map<string, number>();
  let lastLogAt = 0;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = open.get(address) ?? 0;
    if (count >= maxPerAddress) {
      socket.destroy();
      refused.set(address, (refused.get(address) ?? 0) + 1);
      const now = Date.now();
      if (now - lastLogAt >= LOG_EVERY_MS) {
        lastLogAt = now;
        logger?.warn({ refused: Object.fromEntries(refused), maxPerAddress }, 'connections refused: per-address cap reached');
        refused.clear();
      }
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * Answers 408 and closes the connection of a request whose body has not fully arrived within
 * `timeoutMs` of its headers. (Node's own `requestTimeout` did not fire for requests Fastify
 * had already routed: measured, a stalled body held its connection for 60 s and more.)
 */
export function timeOutStalledBodies(app: FastifyInstance, timeoutMs: number): void {
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    // Only requests that announce a body: a body-less request is complete once its headers are
    // (and its stream is never read, so `complete` would stay false during a long reply).
    const hasBody = (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0') || request.headers['transfer-encoding'] !== undefined;
    if (!hasBody || raw.complete || request.headers.upgrade !== undefined) return done();
    const timer = setTimeout(() => {
      if (raw.complete || raw.socket.destroyed) return;
      raw.socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      raw.socket.destroySoon();
    }, timeoutMs);
    timer.unref();
    raw.once('end', () => clearTimeout(timer));
    reply.raw.once('close', () => clearTimeout(timer));
    done();
  });
}
