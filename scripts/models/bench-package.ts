/**
 * The benchmark model package (`bench-en-de`), generated on first use into a git-ignored cache
 * folder by the same code as the embedded tiny models. The folder name carries a hash of the
 * generator's own source, so changing a graph builder or a dimension regenerates it instead of
 * benchmarking a stale file.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyPackage } from './tiny-package-files.ts';
import { benchPackageDefinition } from './tiny-packages.ts';

const GENERATOR_DIR = fileURLToPath(new URL('.', import.meta.url));
export const DEFAULT_BENCH_CACHE = resolve(fileURLToPath(new URL('../../cache/bench-models', import.meta.url)));

/** Hash of every generator source file (this folder, vocabularies included), in a fixed order. */
async function generatorHash(): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.ts')) hash.update(entry.name).update(await readFile(path));
    }
  };
  await walk(GENERATOR_DIR);
  return hash.digest('hex').slice(0, 12);
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/**
 * Returns a models folder holding only the bench package, generating it when missing (a few
 * seconds, no Python). Safe against a crash half-way: the package is written to a temporary
 * folder and renamed into place.
 */
export async function ensureBenchModels(cacheRoot: string = DEFAULT_BENCH_CACHE): Promise<{ modelsDir: string; generated: boolean }> {
  const definition = benchPackageDefinition();
  const modelsDir = join(cacheRoot, await generatorHash());
  if (await exists(join(modelsDir, definition.name, 'manifest.json'))) return { modelsDir, generated: false };
  const staging = `${modelsDir}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await writeTinyPackage(definition, staging);
    await rm(modelsDir, { recursive: true, force: true });
    await rename(staging, modelsDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return { modelsDir, generated: true };
}
