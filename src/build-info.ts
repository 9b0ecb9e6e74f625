/**
 * What is running: the package version and, when known, the git commit it was built from — shown
 * in /health and /metrics so an operator can tell which build answered. The commit comes from
 * INFINISST_BUILD_COMMIT (set it in images without a .git folder), else from the checkout's .git
 * files (read, not `git` run: no child process at start-up); null when neither exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BuildInfo {
  version: string;
  commit: string | null;
}

const ROOT = new URL('..', import.meta.url).pathname;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The commit HEAD points at in `root`'s checkout: a detached id, a loose ref or a packed one. */
export function gitCommitOf(root: string): string | null {
  const gitDir = join(root, '.git');
  if (!existsSync(gitDir)) return null;
  const head = readText(join(gitDir, 'HEAD'))?.trim() ?? '';
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref: (refs\/[\w./-]+)$/.exec(head)?.[1];
  if (!ref) return null;
  const loose = readText(join(gitDir, ref))?.trim();
  if (loose && /^[0-9a-f]{40}$/.test(loose)) return loose;
  const packed = readText(join(gitDir, 'packed-refs')) ?? '';
  for (const line of packed.split('\n')) {
    const [id, name] = line.trim().split(' ');
    if (name === ref && id && /^[0-9a-f]{40}$/.test(id)) return id;
  }
  return null;
}

let cached: BuildInfo | undefined;

/** Read once per process; never throws. */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  let version = '0.0.0';
  try {
    version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // A missing package.json leaves the placeholder: the server still runs.
  }
  const fromEnv = process.env.INFINISST_BUILD_COMMIT?.trim();
  cached = { version, commit: fromEnv && /^[0-9a-f]{7,40}$/i.test(fromEnv) ? fromEnv.toLowerCase() : gitCommitOf(ROOT) };
  return cached;
}
