/**
 * Writing delay logs for /export_session_delays*: only ever inside the configured export folder
 * (the original wrote to any client-chosen path, W10). Relative paths are taken inside the folder;
 * anything resolving outside it, or through a symlink leading outside, is refused.
 */
import { constants } from 'node:fs';
import { mkdir, open, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { AppError } from '../errors.ts';
import type { SegmentLog } from '../sessions/delay-tracker.ts';

/** The original's default file name: spaces → "_", "->" → "To", "/" → "_". */
export function defaultExportName(idPart: string): string {
  const safe = idPart.replaceAll(' ', '_').replaceAll('->', 'To').replaceAll('/', '_').replace(/[^\p{L}\p{N}_.-]/gu, '_');
  return `session_${safe}_delays.log`;
}

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * Resolves `requested` (or `defaultName`) inside `exportDir`, creating folders as needed.
 * Throws AppError('forbiddenPath') for any path leaving the folder.
 */
export async function resolveExportPath(exportDir: string, requested: string | undefined, defaultName: string): Promise<string> {
  const root = resolve(exportDir);
  await mkdir(root, { recursive: true });
  const realRoot = await realpath(root);
  const name = requested ?? defaultName;
  if (name.includes('\0')) throw new AppError('forbiddenPath', 'filepath contains a NUL character');
  const target = isAbsolute(name) ? resolve(name) : resolve(root, name);
  if (!isInside(root, target) && !isInside(realRoot, target)) {
    throw new AppError('forbiddenPath', `filepath must be a relative path inside the export folder (${relative(process.cwd(), root) || '.'}${sep})`);
  }
  const rel = isInside(root, target) ? relative(root, target) : relative(realRoot, target);
  const parent = dirname(resolve(realRoot, rel));
  await mkdir(parent, { recursive: true });
  if (!isInside(realRoot, resolve(await realpath(parent), 'x'))) {
    throw new AppError('forbiddenPath', 'filepath leads outside the export folder through a symbolic link');
  }
  return resolve(realRoot, rel);
}

/** Writes segment logs as JSON Lines; refuses to follow a symlink at the final component. */
export async function writeSegmentLogs(path: string, segments: readonly SegmentLog[]): Promise<void> {
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ELOOP') {
      throw new AppError('forbiddenPath', 'filepath is a symbolic link');
    }
    throw error;
  }
  try {
    await handle.writeFile(segments.map((segment) => JSON.stringify(segment)).join('\n') + (segments.length > 0 ? '\n' : ''));
  } finally {
    await handle.close();
  }
}
