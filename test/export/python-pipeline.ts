/**
 * Runs the Python side of the export pipeline (scripts/export) for the tests: a tiny InfiniSST
 * checkpoint in the published layout, its export to a model package, ONNX parity cases and the
 * PyTorch reference tokens. Needs Debian's python3-torch, python3-onnx, python3-jinja2 and
 * python3-regex under /usr/bin/python3 (or INFINISST_PYTHON).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
// No __pycache__ folders in the working tree.
const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };

export const PYTHON = process.env.INFINISST_PYTHON ?? '/usr/bin/python3';
const EXPORT_DIR = resolve('scripts/export');
export const APT_LINE = 'apt-get install -y python3-torch python3-onnx python3-jinja2 python3-regex';

/** Why the pipeline cannot run here, or undefined when it can. */
export function pythonProblem(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx, jinja2, regex, numpy'], { encoding: 'utf8', timeout: 60_000, env });
  if (probe.error) return `${PYTHON} not found (${probe.error.message}); install with: ${APT_LINE}`;
  if (probe.status !== 0) return `${PYTHON} lacks torch/onnx/jinja2/regex (${probe.stderr.trim().split('\n').pop() ?? ''}); install with: ${APT_LINE}`;
  return undefined;
}

async function python(script: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, [join(EXPORT_DIR, script), ...args], { timeout: 240_000, maxBuffer: 64 * 1024 * 1024, env });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${script} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** Runs scripts/export/tests with unittest; resolves with its summary, rejects when a test fails. */
export async function runPythonUnitTests(): Promise<string> {
  try {
    const { stderr } = await run(PYTHON, ['-W', 'ignore', '-m', 'unittest', 'discover', '-s', join(EXPORT_DIR, 'tests')], { timeout: 240_000, maxBuffer: 64 * 1024 * 1024, env });
    return stderr.trim().split('\n').slice(-3).join('\n');
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`python unit tests failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

export interface TinyPipeline {
  /** Folder holding the exported package folder (an engine `modelsDir`). */
  modelsDir: string;
  packageDir: string;
  parityFile: string;
  /** Reference JSON per multiplier. */
  references: Map<number, string>;
  audio: Float32Array;
}

export const TINY_PAIR = 'English -> German';
export const TINY_PACKAGE = 'infinisst-tiny-en-de';

/**
 * Builds the tiny checkpoint (with a LoRA to merge), exports it, writes parity cases and runs the
 * reference stream over `audio` for each multiplier.
 */
export async function buildTinyPipeline(root: string, audio: Float32Array, multipliers: number[]): Promise<TinyPipeline> {
  const source = join(root, 'source');
  const modelsDir = join(root, 'models');
  const packageDir = join(modelsDir, TINY_PACKAGE);
  await mkdir(modelsDir, { recursive: true });
  await python('tiny_checkpoint.py', [source, '--with-lora']);
  const model = ['--checkpoint', join(source, 'checkpoint', 'pytorch_model.bin'), '--lora', join(source, 'checkpoint', 'lora.bin')];
  await python('export_infinisst.py', [
    ...model,
    '--llm', join(source, 'llm'),
    '--w2v2', join(source, 'w2v2.pt'),
    '--language-pair', 'en-de',
    '--name', TINY_PACKAGE,
    '--out', packageDir,
    // Small windows so that a few chunks already trim both caches.
    '--max-cache-frames', '96',
    '--max-cache-tokens', '80',
    // Force external weight files to exercise the path multi-GB models take.
    '--external-data', 'always',
  ]);
  const parityFile = join(root, 'parity.json');
  await python('parity_cases.py', ['--package', packageDir, ...model, '--out', parityFile]);
  const audioFile = join(root, 'audio.f32');
  await writeFile(audioFile, Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength));
  const references = new Map<number, string>();
  for (const multiplier of multipliers) {
    const out = join(root, `reference-m${multiplier}.json`);
    await python('reference_stream.py', ['--package', packageDir, ...model, '--audio', audioFile, '--multiplier', String(multiplier), '--out', out]);
    references.set(multiplier, out);
  }
  return { modelsDir, packageDir, parityFile, references, audio };
}
