import * as ort from 'onnxruntime-node';
import { AppError } from '../../errors.ts';

/** How one worker wants its onnxruntime sessions created. */
export interface SessionFactoryOptions {
  /** Preference order, e.g. ["cuda", "cpu"]; the first that loads wins. */
  providers: readonly string[];
  /** "cpu" or "cuda:<n>". */
  device: string;
  intraOpThreads: number;
}

export interface LoadedSession {
  session: ort.InferenceSession;
  provider: string;
  /** Providers that were tried first and failed, with the reason. */
  fallbacks: { provider: string; error: string }[];
}

function deviceIndex(device: string): number {
  const match = /^cuda:(\d+)$/.exec(device);
  return match?.[1] ? Number(match[1]) : 0;
}

function providerConfig(name: string, device: string): ort.InferenceSession.ExecutionProviderConfig {
  if (name === 'cuda') return { name: 'cuda', deviceId: deviceIndex(device) };
  return name;
}

/**
 * Creates an onnxruntime session from a file path (weights are memory-mapped/loaded by
 * onnxruntime, never copied through JavaScript), trying providers in order. onnxruntime does not
 * fall back by itself when a provider fails to load, so each failure is caught and the next one
 * tried. Throws AppError('modelInvalid') when none loads.
 */
export async function createSession(path: string, options: SessionFactoryOptions): Promise<LoadedSession> {
  const fallbacks: { provider: string; error: string }[] = [];
  // A CPU-only device never tries CUDA, whatever the preference list says.
  const candidates = options.device === 'cpu' ? options.providers.filter((p) => p === 'cpu') : [...options.providers];
  if (!candidates.includes('cpu')) candidates.push('cpu');
  for (const provider of candidates) {
    try {
      // onnxruntime also prints its own copy of a provider load failure to stderr through its
      // process-wide logger (the session log level does not reach it); we report the fallback.
      const session = await ort.InferenceSession.create(path, {
        executionProviders: [providerConfig(provider, options.device)],
        intraOpNumThreads: options.intraOpThreads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
      });
      return { session, provider, fallbacks };
    } catch (error) {
      fallbacks.push({ provider, error: error instanceof Error ? error.message : String(error) });
    }
  }
  const reasons = fallbacks.map((f) => `${f.provider}: ${f.error}`).join('; ');
  throw new AppError('modelInvalid', `cannot load ${path} with any execution provider (${reasons})`);
}

/** Checks a session declares exactly the inputs/outputs the engine feeds/reads. */
export function checkGraphIO(label: string, session: ort.InferenceSession, expected: { inputs: string[]; outputs: string[] }, optionalInputs: string[] = []): void {
  const problems: string[] = [];
  const inputs = new Set(session.inputNames);
  for (const name of expected.inputs) if (!inputs.has(name)) problems.push(`missing input "${name}"`);
  for (const name of session.inputNames) {
    if (!expected.inputs.includes(name) && !optionalInputs.includes(name)) problems.push(`unexpected input "${name}"`);
  }
  const outputs = new Set(session.outputNames);
  for (const name of expected.outputs) if (!outputs.has(name)) problems.push(`missing output "${name}"`);
  if (problems.length > 0) {
    throw new AppError('modelInvalid', `${label}: tensor names do not match docs/model-format.md: ${problems.join(', ')} (graph has inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}])`);
  }
}
