/**
 * The test-video folder behind `GET /test_video/{filename}`: any plain file directly inside one
 * configured folder can be served, nothing else. The original searched eight places including
 * /tmp, ~/Downloads and the working directory and listed them in its 404 (W13); here a name is a
 * single path segment, the resolved real path must stay inside the folder (no symlink escapes),
 * and errors never mention server paths.
 */
import { realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { AppError } from '../errors.ts';
import { mediaTypeFor } from './media-types.ts';

/** The names the original page and scripts used (§1.3.12); they work whenever the files exist. */
export const legacyTestVideoNames = [
  '0000AAAA.mp4', 'test.mp4', 'sample.mp4',
  '2022.acl-long.110.wav', '2022.acl-long.117.wav', '2022.acl-long.268.wav', '2022.acl-long.367.wav', '2022.acl-long.590.wav',
] as const;

export interface TestVideoFile {
  name: string;
  filePath: string;
  stats: Stats;
  contentType: string;
}

const maxNameLength = 255;

export class TestVideoLibrary {
  readonly dir: string;
  #realDir: Promise<string> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Finds a test video by file name. Throws AppError('forbiddenPath') for a name that is not a
   * plain file name (separators, "..", hidden files, control characters) and AppError('notFound')
   * when no such regular file exists inside the folder.
   */
  async resolve(name: string): Promise<TestVideoFile> {
    assertPlainFileName(name);
    const notFound = new AppError('notFound', `Test video '${name}' not found`);
    const realDir = await this.#resolveDir().catch(() => undefined);
    if (realDir === undefined) throw notFound;
    let filePath: string;
    let stats: Stats;
    try {
      filePath = await realpath(join(realDir, name));
      stats = await stat(filePath);
    } catch {
      throw notFound;
    }
    // A symlink inside the folder may point anywhere; only targets inside the folder count.
    if (!filePath.startsWith(realDir + sep) || !stats.isFile()) throw notFound;
    return { name, filePath, stats, contentType: mediaTypeFor(name) };
  }

  #resolveDir(): Promise<string> {
    // Resolved once the folder exists; a missing folder is retried on the next request.
    this.#realDir ??= realpath(this.dir).catch((error: unknown) => {
      this.#realDir = undefined;
      throw error;
    });
    return this.#realDir;
  }
}

/** Throws AppError('forbiddenPath') unless `name` is a single, visible, ordinary file name. */
export function assertPlainFileName(name: string): void {
  const forbidden = (reason: string): AppError => new AppError('forbiddenPath', `Invalid test video name: ${reason}`);
  if (name.length === 0) throw forbidden('empty');
  if (name.length > maxNameLength) throw forbidden('too long');
  if (/[/\\]/.test(name)) throw forbidden('it must not contain path separators');
  if (name.startsWith('.')) throw forbidden('it must not start with "."');
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) throw forbidden('it must not contain control characters');
  if (name.includes(':')) throw forbidden('it must not contain ":"');
}
