/**
 * Turns a package definition into the bytes of its five files, and writes them to a folder.
 * Pure apart from `writeTinyPackage`, so tests can compare bytes without touching models/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDecoderGraph, buildEmbedGraph } from './decoder-graph.ts';
import { buildEncoderGraph } from './encoder-graph.ts';
import { encodeModel } from './onnx-proto.ts';
import type { GraphSpec } from './onnx-proto.ts';
import { decoderDims } from './tiny-dimensions.ts';
import { DEFAULT_FLAVOUR, tinyManifest, type GraphFlavour } from './tiny-manifest.ts';
import type { TinyPackageDefinition } from './tiny-packages.ts';
import { SPECIAL_TOKENS, specialId } from './vocabulary.ts';

const IR_VERSION = 8;
const OPSET_VERSION = 17;
/** Keeps control tokens other than end-of-chunk out of the generated text (they would be skipped anyway). */
const OTHER_SPECIALS_BIAS = -10;
/** Peakedness of the random LM head: with ~unit logits the argmax would flip at every step. */
const LOGIT_GAIN = 2;

/** File name -> contents, in a fixed order. */
export type PackageFiles = Map<string, Uint8Array>;

function onnxFile(graph: GraphSpec, docString: string): Uint8Array {
  return encodeModel({
    irVersion: IR_VERSION,
    opsetVersion: OPSET_VERSION,
    producerName: 'infinisst-serve/generate-default-models',
    producerVersion: '1',
    docString,
    graph,
  });
}

function jsonFile(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

function logitBias(definition: TinyPackageDefinition): Float32Array {
  const bias = new Float32Array(definition.vocabulary.tokens.length);
  for (const token of SPECIAL_TOKENS) bias[specialId(token)] = OTHER_SPECIALS_BIAS;
  bias[specialId('<eoc>')] = definition.endOfChunkBias;
  return bias;
}

/**
 * Builds every file of a package in memory. The committed packages use the slots cache layout
 * (`DEFAULT_FLAVOUR`); `{ cacheLayout: 'padded', presentOutput: 'full' | 'new' }` builds the same
 * weights as Hugging Face-style graphs, to test that the engine still serves such exports.
 */
export function buildTinyPackageFiles(definition: TinyPackageDefinition, flavour: GraphFlavour = DEFAULT_FLAVOUR): PackageFiles {
  const { presentOutput, cacheLayout } = flavour;
  const doc = `${definition.name}: random weights, not a translation model`;
  const vocabSize = definition.vocabulary.tokens.length;
  const dims = definition.decoderDims ?? decoderDims;
  return new Map([
    ['manifest.json', jsonFile(tinyManifest(definition, flavour))],
    ['encoder.onnx', onnxFile(buildEncoderGraph(definition.name, presentOutput, dims.hiddenSize), doc)],
    ['embed.onnx', onnxFile(buildEmbedGraph(definition.name, vocabSize, dims.hiddenSize), doc)],
    [
      'decoder.onnx',
      onnxFile(buildDecoderGraph(definition.name, { vocabSize, logitBias: logitBias(definition), logitGain: LOGIT_GAIN }, presentOutput, dims, cacheLayout), doc),
    ],
    ['tokens.json', jsonFile({ tokens: definition.vocabulary.tokens })],
  ]);
}

/** Writes a package into `<modelsDir>/<name>/`, creating folders as needed; throws on I/O errors. */
export async function writeTinyPackage(definition: TinyPackageDefinition, modelsDir: string, flavour: GraphFlavour = DEFAULT_FLAVOUR): Promise<string> {
  const dir = join(modelsDir, definition.name);
  await mkdir(dir, { recursive: true });
  for (const [fileName, bytes] of buildTinyPackageFiles(definition, flavour)) await writeFile(join(dir, fileName), bytes);
  return dir;
}
