/**
 * Writes the embedded tiny model packages (models/tiny-en-{zh,it,de,es}) with fixed seeds:
 * random weights, real ONNX graphs, byte-identical on every run. No Python needed.
 *
 * Usage: npm run generate:models [-- --out <modelsDir>]   (default: ./models)
 */
import { resolve } from 'node:path';
import { writeTinyPackage } from './models/tiny-package-files.ts';
import { tinyPackageDefinitions } from './models/tiny-packages.ts';
import { parseCommandLine } from './command-line.ts';

const USAGE = `Writes the embedded tiny model packages (random weights, real ONNX graphs, byte-identical every run).

Usage: npm run generate:models -- [--out <modelsDir>]   (default: ./models)`;
const { values } = parseCommandLine('generate:models', USAGE, { out: { type: 'string', default: 'models' } });
const modelsDir = resolve(values.out);
for (const definition of tinyPackageDefinitions()) {
  const dir = await writeTinyPackage(definition, modelsDir);
  console.log(`wrote ${dir}`);
}
