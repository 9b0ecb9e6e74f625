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


/**
 * The package serving each language pair: the first (in folder order) that serves it, the others
 * said in a warning; and the packages to load — one whose every pair another serves is not loaded.
 */
export function choosePairServers(discovered: readonly ModelPackage[], logger?: EngineOptions['logger']): { pairToModel: Map<string, ModelPackage>; packages: ModelPackage[] } {
  const pairToModel = new Map<string, ModelPackage>();
  for (const pkg of discovered) {
    for (const pair of Object.keys(pkg.manifest.languagePairs)) {
      const kept = pairToModel.get(pair);
      if (kept) logger?.warn({ pair, model: pkg.manifest.name, kept: kept.manifest.name }, `language pair ${pair} is served by ${kept.manifest.name} and ${pkg.manifest.name}; keeping ${kept.manifest.name}`);
      else pairToModel.set(pair, pkg);
    }
  }
  const serving = new Set(pairToModel.values());
  for (const pkg of discovered) {
    if (!serving.has(pkg)) logger?.warn({ model: pkg.manifest.name, dir: pkg.dir }, `model ${pkg.manifest.name} is not loaded: other packages serve all its language pairs`);
  }
  return { pairToModel, packages: discovered.filter((pkg) => serving.has(pkg)) };
}
