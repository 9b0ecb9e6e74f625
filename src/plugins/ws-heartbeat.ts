/**
 * Protocol-level keep-alive for WebSockets (uvicorn did this for the original: ping every 20 s):
 * a socket from which nothing arrived since the previous ping — no pong, no frame — is
 * terminated, so half-open connections do not hold sessions' sinks forever. Any inbound frame
 * proves the peer alive: under load a pong can sit behind a backlog of audio frames that the
 * server is still reading (a fuzz run under CPU load saw healthy sockets cut with 1006).
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';

/** Starts the ping timer on `app.websocketServer`; stopped when the app closes. */
export function startWebSocketHeartbeat(app: FastifyInstance, intervalMs: number): void {
  const isAlive = new WeakMap<WebSocket, boolean>();
  app.websocketServer.on('connection', (socket: WebSocket) => {
    isAlive.set(socket, true);
    const markAlive = (): void => {
      isAlive.set(socket, true);
    };
    socket.on('pong', markAlive);
    socket.on('message', markAlive);
  });
  const timer = setInterval(() => {
    for (const socket of app.websocketServer.clients) {
      // A socket paused for back-pressure reads nothing, its peer's pongs included: it is not
      // dead, only slowed down (found by the load test, which saw healthy streams cut with 1006).
      // A peer that really vanished is still caught by the session idle sweep.
      if (socket.isPaused) {
        isAlive.set(socket, true);
        continue;
      }
      if (isAlive.get(socket) === false) {
        socket.terminate();
        continue;
      }
      isAlive.set(socket, false);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}
