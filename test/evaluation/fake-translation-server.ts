/**
 * A small server speaking the public protocol (POST /init, WS /wss/{id}, EOF →
 * PROCESSING_COMPLETE, GET /session_delays, POST /delete_session) with a scripted "model": chunk
 * i of 15 360 × m samples yields the word `w<i>`. It lets the CLI tests know the exact output and
 * NCA delays, independently of the real engine. It records every frame it receives.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export type FakeMode = 'server-delays' | 'no-delays' | 'revise';

interface FakeSession {
  multiplier: number;
  samples: number;
  chunks: number;
  text: string;
  units: { word: string; sourceMs: number }[];
}

export interface FakeServer {
  url: string;
  /** Float32 sample counts of the binary frames received, per session, in order. */
  frames: Map<string, number[]>;
  textFrames: string[];
  deleted: string[];
  close(): Promise<void>;
}

export async function startFakeServer(mode: FakeMode): Promise<FakeServer> {
  const sessions = new Map<string, FakeSession>();
  const frames = new Map<string, number[]>();
  const textFrames: string[] = [];
  const deleted: string[] = [];
  let counter = 0;

  const json = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/init') {
      const id = `${url.searchParams.get('client_id')}_${url.searchParams.get('language_pair')}_${++counter}`;
      sessions.set(id, { multiplier: Number(url.searchParams.get('latency_multiplier')), samples: 0, chunks: 0, text: '', units: [] });
      return json(res, { session_id: id, queued: false, queue_position: 0, evaluation_mode: url.searchParams.get('evaluation_mode') === 'true' });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/session_delays/')) {
      const session = sessions.get(decodeURIComponent(url.pathname.slice('/session_delays/'.length)));
      if (!session || mode === 'no-delays') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"detail":"Not Found"}');
      }
      const details = session.units.map((u, i) => ({ word: u.word, word_index: i, source_ms: u.sourceMs }));
      return json(res, { success: true, delays: { total_words: details.length, word_delays: details } });
    }
    if (req.method === 'POST' && url.pathname === '/delete_session') {
      deleted.push(url.searchParams.get('session_id') ?? '');
      return json(res, { success: true });
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"detail":"Not Found"}');
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const id = decodeURIComponent(url.pathname.slice('/wss/'.length));
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = sessions.get(id);
      if (!session) return ws.close(4000, 'Invalid session ID');
      ws.send('READY: Scheduler system ready');
      const emit = (sourceMs: number) => {
        const word = `w${session.chunks++}`;
        session.text = session.text ? `${session.text} ${word}` : word;
        session.units.push({ word, sourceMs });
        // In "revise" mode the second frame rewrites the first word: a policy violation.
        ws.send(mode === 'revise' && session.chunks === 2 ? session.text.replace('w0', 'x0') : session.text);
      };
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          const message = data.toString();
          textFrames.push(message);
          if (message === 'EOF') {
            const chunkSamples = 15_360 * session.multiplier;
            if (session.samples > session.chunks * chunkSamples) emit(session.samples / 16);
            ws.send('PROCESSING_COMPLETE: File processing finished');
          }
          return;
        }
        const buffer = data as Buffer;
        const list = frames.get(id) ?? [];
        list.push(buffer.byteLength / 4);
        frames.set(id, list);
        session.samples += buffer.byteLength / 4;
        const chunkSamples = 15_360 * session.multiplier;
        while ((session.chunks + 1) * chunkSamples <= session.samples) emit(((session.chunks + 1) * chunkSamples) / 16);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    frames,
    textFrames,
    deleted,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
