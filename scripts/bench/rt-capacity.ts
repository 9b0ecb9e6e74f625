/**
 * Real-time capacity: how many paced sessions one machine keeps under one chunk of latency
 * (`npm run bench:engine -- --modes rt-capacity`). Each trial is a real-time row of the engine
 * benchmark on a fresh engine.
 */
import { chunkSamples } from '../../src/inference/manifest.ts';
import { estimatePeakBytes, runBenchRow, type BenchModel, type Row, type RowConfig } from './engine-bench.ts';

/** One trial of the real-time capacity search. */
export interface CapacityTrial {
  sessions: number;
  chunkLatencyMsP95: number;
  errors: number;
  keepsUp: boolean;
}

export interface CapacityResult {
  mode: 'rt-capacity';
  batching: boolean;
  beam: number;
  warmTokens: number;
  /** The most paced sessions whose chunk latency p95 stayed under one chunk, with no error (0: not even one). */
  sessions: number;
  chunkMs: number;
  /** True when the search stopped at `maxSessions` or at the memory budget while still keeping up. */
  isBounded: boolean;
  trials: CapacityTrial[];
}

/**
 * Real-time capacity: the most sessions, audio paced at 1×, whose chunk latency p95 (chunk
 * complete → its text) stays under one chunk's duration — beyond that a session falls further
 * behind with every chunk. Doubles from `start` while the sessions keep up, then bisects to
 * within an eighth. Every trial is a `real-time` row on a fresh engine.
 */
export async function findRealTimeCapacity(
  model: BenchModel,
  base: Omit<RowConfig, 'mode' | 'sessions'>,
  matmulPeakGflops: number,
  limits: { start: number; maxSessions: number; budgetBytes: number },
  onTrial: (trial: CapacityTrial, row: Row) => void = () => {},
): Promise<CapacityResult> {
  const chunkMs = (chunkSamples(model.pkg.manifest, base.latency) / 16000) * 1000;
  const trials: CapacityTrial[] = [];
  const fits = (sessions: number): boolean => estimatePeakBytes(model, { ...base, mode: 'real-time', sessions }) <= limits.budgetBytes;
  const keepsUp = async (sessions: number): Promise<boolean> => {
    const row = await runBenchRow(model, { ...base, mode: 'real-time', sessions }, matmulPeakGflops);
    const trial = { sessions, chunkLatencyMsP95: row.chunkLatencyMsP95, errors: row.errors, keepsUp: row.errors === 0 && row.chunks > 0 && row.chunkLatencyMsP95 < chunkMs };
    trials.push(trial);
    onTrial(trial, row);
    return trial.keepsUp;
  };
  const found = await searchCapacity({ start: limits.start, maxSessions: limits.maxSessions, fits }, keepsUp);
  return { mode: 'rt-capacity', batching: base.batching, beam: base.beam, warmTokens: base.warmTokens, sessions: found.sessions, chunkMs, isBounded: found.isBounded, trials };
}

/**
 * The search behind `findRealTimeCapacity`, on any monotone test: doubles from `start` while
 * `keepsUp`, stopping at `maxSessions` or the first count that does not `fit`; then bisects
 * between the last count that kept up and the first that did not, to within an eighth.
 */
export async function searchCapacity(
  limits: { start: number; maxSessions: number; fits: (sessions: number) => boolean },
  keepsUp: (sessions: number) => Promise<boolean>,
): Promise<{ sessions: number; isBounded: boolean }> {
  let good = 0;
  let bad: number | undefined;
  for (let next = Math.max(1, limits.start); bad === undefined; next *= 2) {
    const sessions = Math.min(next, limits.maxSessions);
    if (!limits.fits(sessions)) return { sessions: good, isBounded: true };
    if (await keepsUp(sessions)) good = sessions;
    else bad = sessions;
    if (sessions === limits.maxSessions && bad === undefined) return { sessions: good, isBounded: true };
  }
  while (bad - good > Math.max(1, Math.floor(good / 8))) {
    const middle = Math.floor((good + bad) / 2);
    if (await keepsUp(middle)) good = middle;
    else bad = middle;
  }
  return { sessions: good, isBounded: false };
}
