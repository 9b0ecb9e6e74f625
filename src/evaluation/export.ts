/**
 * Writing evaluation logs (JSON Lines) into the one configured export folder. The original wrote
 * to any path a client named (W10); here a client-given path is only a wish inside the folder:
 * it is resolved against the folder and refused if it leaves it (`..`, absolute paths elsewhere),
 * if any existing component under the folder is a symbolic link, or if it names the folder itself.
 * File and sub-folder names are sanitised to [A-Za-z0-9._-]. The folder is created if missing.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AppError } from '../errors.ts';

const MAX_NAME_LENGTH = 200;

/** Replaces anything but [A-Za-z0-9._-] by "_" and refuses names that are empty or all dots. */
export function sanitizeFileName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_NAME_LENGTH);
  if (cleaned.length === 0 || /^\.+$/.test(cleaned)) throw new AppError('forbiddenPath', `invalid file name: ${JSON.stringify(name)}`);
  return cleaned;
}

/** The original's default export name: session_<id with " "→"_", "->"→"To", "/"→"_">_delays.log. */
export function defaultDelaysFileName(sessionId: string): string {
  const safe = sessionId.replaceAll(' ', '_').replaceAll('->', 'To').replaceAll('/', '_');
  return sanitizeFileName(`session_${safe}_delays.log`);
}

/**
 * Where `requested` (or `defaultName`) would be written inside `folder`, as path components
 * relative to it. Throws AppError('forbiddenPath') if the path leaves the folder.
 */
export function confinedComponents(folder: string, requested: string | undefined, defaultName: string): string[] {
  const wish = requested === undefined || requested.trim() === '' ? defaultName : requested;
  if (wish.includes('\0')) throw new AppError('forbiddenPath', 'path contains a NUL byte');
  const root = resolve(folder);
  const target = resolve(root, wish);
  const rel = relative(root, target);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new AppError('forbiddenPath', 'export path must stay inside the configured export folder');
  }
  return rel.split(sep).map(sanitizeFileName);
}

/**
 * Writes `records` as JSON Lines to `requested` (default `defaultName`) inside `folder` and
 * returns the absolute path written. Throws AppError('forbiddenPath') for a path outside the
 * folder or through a symbolic link; I/O errors propagate.
 */
export async function writeJsonLines(
  folder: string,
  requested: string | undefined,
  defaultName: string,
  records: readonly unknown[],
): Promise<string> {
  const components = confinedComponents(folder, requested, defaultName);
  await mkdir(folder, { recursive: true });
  const root = await realpath(folder);
  await checkExportQuota(root);
  let directory = root;
  for (const part of components.slice(0, -1)) {
    directory = join(directory, part);
    await ensurePlainDirectory(directory);
  }
  const fileName = components[components.length - 1] ?? defaultName;
  const path = join(directory, fileName);
  const body = records.map((record) => JSON.stringify(record)).join('\n') + (records.length > 0 ? '\n' : '');
  // O_NOFOLLOW: a symlink planted at the file name itself is refused by the kernel (ELOOP).
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);
  let handle;
  try {
    handle = await open(path, flags, 0o644);
  } catch (error) {
    if (isErrno(error, 'ELOOP')) throw new AppError('forbiddenPath', 'export path is a symbolic link', { cause: error });
    throw error;
  }
  try {
    await handle.writeFile(body, 'utf8');
  } finally {
    await handle.close();
  }
  return path;
}

async function ensurePlainDirectory(path: string): Promise<void> {
  try {
    const info = await lstat(path);
    if (info.isSymbolicLink()) throw new AppError('forbiddenPath', 'export path goes through a symbolic link');
    if (!info.isDirectory()) throw new AppError('forbiddenPath', 'export path goes through a file');
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    await mkdir(path);
  }
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && (error as { code: unknown }).code === code;
}

/** Files and bytes the export folder may hold: exports are written on a client's request. */
export const EXPORT_QUOTA = { files: 1_000, bytes: 256 * 1024 * 1024 };

/** Throws AppError('exportQuotaExceeded') when the folder already holds its quota of files or bytes. */
async function checkExportQuota(root: string): Promise<void> {
  let files = 0;
  let bytes = 0;
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      if (files >= EXPORT_QUOTA.files || bytes >= EXPORT_QUOTA.bytes) return;
      const path = join(directory, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        files++;
        bytes += (await lstat(path)).size;
      }
    }
  };
  await walk(root);
  if (files >= EXPORT_QUOTA.files || bytes >= EXPORT_QUOTA.bytes) {
    throw new AppError('exportQuotaExceeded', `the export folder holds its quota (${EXPORT_QUOTA.files} files or ${EXPORT_QUOTA.bytes / 1024 / 1024} MiB); the operator must move old exports away`);
  }
}
