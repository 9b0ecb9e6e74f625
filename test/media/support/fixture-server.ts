/**
 * A local HTTP server on 127.0.0.1 standing in for YouTube's media hosts in tests:
 *   /media/<name>            the file, with Content-Length
 *   /chunked/<name>          the file, chunked (no Content-Length)
 *   /hold/<name>             the file, but only after `release()` (for concurrency tests)
 *   /stall/<name>            headers and the first bytes, then nothing
 *   /redirect?to=<url>       302 to `to`
 *   /html                    a text/html page
 *   /status/<code>           an empty reply with that status
 * It counts media requests and the most that were open at once.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixtureServer {
  baseUrl: string;
  /** Media requests received, by path. */
  requests: string[];
  /** Media requests currently open / most open at once. */
  readonly open: number;
  readonly maxOpen: number;
  /** Lets every held request (and later ones) through. */
  release(): void;
  /** Resolves once `count` media requests are open at the same time. */
  waitForOpen(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFixtureServer(files: Record<string, Buffer>): Promise<FixtureServer> {
  let open = 0;
  let maxOpen = 0;
  let released = false;
  const holders: Array<() => void> = [];
  const openWaiters: Array<{ count: number; resolve: () => void }> = [];
  const requests: string[] = [];

  const notifyOpen = (): void => {
    for (const waiter of [...openWaiters]) {
      if (open >= waiter.count) {
        openWaiters.splice(openWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const [, kind = '', name = ''] = url.pathname.split('/');
    if (kind === 'redirect') {
      response.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
      return;
    }
    if (kind === 'html') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<html>not a video</html>');
      return;
    }
    if (kind === 'status') {
      response.writeHead(Number(name)).end();
      return;
    }
    const file = files[name];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    requests.push(url.pathname);
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    response.once('close', () => {
      open -= 1;
    });
    notifyOpen();
    const sendWhole = (withLength: boolean): void => {
      response.writeHead(200, { 'content-type': 'video/mp4', ...(withLength ? { 'content-length': file.length } : {}) });
      // Two writes, so readers see more than one chunk.
      const half = Math.floor(file.length / 2);
      response.write(file.subarray(0, half));
      response.end(file.subarray(half));
    };
    if (kind === 'media') sendWhole(true);
    else if (kind === 'chunked') sendWhole(false);
    else if (kind === 'hold') {
      if (released) sendWhole(true);
      else holders.push(() => sendWhole(true));
    } else if (kind === 'stall') {
      response.writeHead(200, { 'content-type': 'video/mp4', 'content-length': file.length });
      response.write(file.subarray(0, Math.min(1024, file.length)));
    } else {
      response.writeHead(404).end();
    }
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    get open() {
      return open;
    },
    get maxOpen() {
      return maxOpen;
    },
    release() {
      released = true;
      for (const holder of holders.splice(0)) holder();
    },
    waitForOpen(count) {
      if (open >= count) return Promise.resolve();
      return new Promise((resolve) => openWaiters.push({ count, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
