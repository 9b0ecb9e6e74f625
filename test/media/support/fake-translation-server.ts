/**
 * A minimal server speaking the public protocol (POST /init, WS /wss/{id}, POST /delete_session)
 * for testing the translate client on its own. It records every request and frame; each binary
 * frame gets a cumulative translation frame ("w1", "w1 w2", ...) unless `silentFrames` says
 * otherwise; `EOF` is answered with PROCESSING_COMPLETE after everything before it. With
 * `rejectSockets` every socket is closed with 4000 as for an unknown session.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface FakeServer {
  url: string;
  inits: URLSearchParams[];
  deleted: string[];
  /** Byte length of every binary frame, and text frames as strings, in order. */
  frames: Array<number | string>;
  close(): Promise<void>;
}

export async function startFakeTranslationServer(options: { silentFrames?: Set<number>; rejectSockets?: boolean } = {}): Promise<FakeServer> {
  const inits: URLSearchParams[] = [];
  const deleted: string[] = [];
  const frames: Array<number | string> = [];
  const sessions = new Set<string>();

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const json = (body: unknown): void => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (request.method === 'POST' && url.pathname === '/init') {
      inits.push(url.searchParams);
      const id = `${url.searchParams.get('client_id')}_${url.searchParams.get('language_pair')}_${inits.length}`;
      sessions.add(id);
      json({ session_id: id, queued: false, queue_position: 0 });
    } else if (request.method === 'POST' && url.pathname === '/delete_session') {
      const id = url.searchParams.get('session_id') ?? '';
      deleted.push(id);
      json(sessions.delete(id) ? { success: true } : { success: false, error: 'Invalid session ID' });
    } else {
      json({ detail: 'Not Found' });
    }
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      const id = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname.replace(/^\/wss\//, ''));
      if (!sessions.has(id) || options.rejectSockets) {
        ws.close(4000, 'Invalid session ID');
        return;
      }
      ws.send('READY: fake server ready');
      const words: string[] = [];
      let binaryFrames = 0;
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
          frames.push(bytes.length);
          binaryFrames += 1;
          if (options.silentFrames?.has(binaryFrames)) return;
          words.push(`w${binaryFrames}`);
          ws.send(words.join(' '));
        } else {
          const text = String(data);
          frames.push(text);
          if (text === 'EOF') ws.send('PROCESSING_COMPLETE: File processing finished');
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    inits,
    deleted,
    frames,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
