import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AppError } from '../../errors.ts';
import type { EngineOptions } from '../engine-options.ts';
import { loadModelPackage, type ModelPackage } from '../manifest.ts';

/** Loads the configured packages, or every folder with a manifest.json. Throws AppError('modelInvalid') with what to do. */
export async function discoverPackages(options: EngineOptions): Promise<ModelPackage[]> {
  const root = resolve(options.modelsDir);
  let names = options.models;
  if (!names) {
    let entries: string[];
    try {
      entries = await readdir(root);
    } catch {
      throw new AppError('modelInvalid', `models folder ${root} does not exist: create it, or point the config's models directory at your model packages`);
    }
    names = [];
    for (const name of entries.sort()) {
      const isPackage = await stat(join(root, name, 'manifest.json')).then((s) => s.isFile(), () => false);
      if (isPackage) names.push(name);
    }
  }
  if (names.length === 0) throw new AppError('modelInvalid', `no model packages (folders with manifest.json) in ${root}; run "npm run generate:models" or add a model`);
  return Promise.all(names.map((name) => loadModelPackage(join(root, name))));
}

