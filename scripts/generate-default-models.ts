/**
 * Writes the embedded tiny model packages (models/tiny-en-{zh,it,de,es}) with fixed seeds:
 * random weights, real ONNX graphs, byte-identical on every run. No Python needed.
 *
 * Usage: npm run generate:models [-- --out <modelsDir>]   (default: ./models)
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeTinyPackage } from './models/tiny-package-files.ts';
import { tinyPackageDefinitions } from './models/tiny-packages.ts';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'models' } } });
const modelsDir = resolve(values.out);
for (const definition of tinyPackageDefinitions()) {
  const dir = await writeTinyPackage(definition, modelsDir);
  console.log(`wrote ${dir}`);
}
