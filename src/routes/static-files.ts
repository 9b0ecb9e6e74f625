/**
 * Helpers for serving the web client: the first existing candidate folder wins; real-path
 * confinement (no symlinks leading out); content types by extension, JavaScript as
 * text/javascript (the page loads an AudioWorklet module from /static/audio-processor.js).
 */
import { existsSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's own static folder, so `npm start` works from any working directory. */
export const bundledStaticDir = fileURLToPath(new URL('../../static', import.meta.url));

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.wasm': 'application/wasm',
};

export function contentTypeOf(path: string): string {
  return contentTypes[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** The first existing directory among `candidates` (resolved against `cwd`), then the bundled one. */
export function findStaticDir(candidates: readonly string[], cwd: string): string | null {
  for (const candidate of [...candidates.map((dir) => resolve(cwd, dir)), bundledStaticDir]) {
    try {
      if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    } catch {
      // unreadable candidate: try the next one
    }
  }
  return null;
}

/**
 * True when `path` exists and its real path (symlinks resolved) lies strictly inside the real
 * path of one of `roots`.
 */
export async function isInsideRealDir(path: string, roots: Iterable<string>): Promise<boolean> {
  let realFile: string;
  try {
    realFile = await realpath(path);
  } catch {
    return false;
  }
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => undefined);
    if (realRoot === undefined) continue;
    const rel = relative(realRoot, realFile);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return true;
  }
  return false;
}

/** The page shown at / when no index.html exists anywhere. */
export function fallbackPage(candidates: readonly string[]): string {
  const links = ['/health', '/ray/stats', '/debug/session_stats', '/debug/session_history']
    .map((path) => `<li><a href="${path}">${path}</a></li>`)
    .join('');
  const folders = candidates.map((dir) => `<code>${dir.replace(/[<>&]/g, '')}</code>`).join(', ');
  return `<!doctype html><html><head><meta charset="utf-8"><title>InfiniSST translation server</title></head>
<body><h1>InfiniSST translation server</h1>
<p>The server is running, but no web client was found: put <code>index.html</code> into one of ${folders}
(relative to the working directory) and reload.</p>
<p>API endpoints:</p><ul>${links}</ul></body></html>`;
}
