/**
 * Simultaneous-translation latency metrics as SimulEval defines them (simuleval/evaluator/scorers/
 * latency_scorer.py): AP, AL, LAAL and DAL, each on non-computation-aware delays (`delays`: ms of
 * source read when a unit was emitted) and on computation-aware ones (`elapsed`: wall-clock ms).
 * SimulEval computes the CA variants with the very same formulas, the elapsed times standing in
 * for the delays, so the cut-off τ of AL/LAAL is then the first unit whose elapsed time reaches
 * the source length. All lengths of source are in ms, target lengths in units.
 *
 * Pure functions: no I/O, no clock.
 */
import { AppError } from '../errors.ts';

function check(delays: readonly number[], sourceLength: number, targetLength: number, minTarget = 1): void {
  if (delays.length === 0) throw new AppError('badRequest', 'latency needs at least one delay');
  if (!(sourceLength > 0)) throw new AppError('badRequest', 'latency needs a positive source length');
  if (!(targetLength >= minTarget)) throw new AppError('badRequest', `latency needs a target length of at least ${minTarget}`);
}

/** Shared body of AL and LAAL: (1/τ) Σ_{i≤τ} d_i − (i−1)/γ, τ = first i with d_i ≥ |X|. */
function lagging(delays: readonly number[], sourceLength: number, gamma: number): number {
  const first = delays[0] ?? 0;
  // SimulEval: a first unit emitted after the whole source counts as its own delay.
  if (first > sourceLength) return first;
  let sum = 0;
  let tau = 0;
  for (const [iMinus1, d] of delays.entries()) {
    sum += d - iMinus1 / gamma;
    tau = iMinus1 + 1;
    if (d >= sourceLength) break;
  }
  return sum / tau;
}

/**
 * Average Lagging (Ma et al. 2019), γ = |Y|/|X| with |Y| the reference length when known.
 * Throws AppError('badRequest') for no delays or non-positive lengths.
 */
export function averageLagging(delays: readonly number[], sourceLength: number, targetLength: number): number {
  check(delays, sourceLength, targetLength);
  return lagging(delays, sourceLength, targetLength / sourceLength);
}

/**
 * Length-Adaptive AL (Papi et al. 2022): AL with γ = max(|Y|, |Y*|)/|X|, so over-generation is
 * not rewarded. `referenceLength` = |Y*|; |Y| is the number of delays. Throws like AL.
 */
export function lengthAdaptiveAverageLagging(delays: readonly number[], sourceLength: number, referenceLength: number): number {
  // An empty reference is allowed: γ then rests on the hypothesis length alone.
  check(delays, sourceLength, referenceLength, 0);
  return lagging(delays, sourceLength, Math.max(delays.length, referenceLength) / sourceLength);
}

/** Average Proportion (Cho & Esipova 2016): Σ d_i / (|X|·|Y|). Throws like AL. */
export function averageProportion(delays: readonly number[], sourceLength: number, targetLength: number): number {
  check(delays, sourceLength, targetLength);
  let sum = 0;
  for (const d of delays) sum += d;
  return sum / (sourceLength * targetLength);
}

/**
 * Differentiable AL (Arivazhagan et al. 2019): d'_1 = d_1, d'_i = max(d_i, d'_{i−1} + 1/γ),
 * DAL = (1/|Y|) Σ d'_i − (i−1)/γ with γ = |Y|/|X| and |Y| the hypothesis length (SimulEval ignores
 * the reference here). Throws like AL.
 */
export function differentiableAverageLagging(delays: readonly number[], sourceLength: number): number {
  check(delays, sourceLength, delays.length);
  const gamma = delays.length / sourceLength;
  let sum = 0;
  let previous = 0;
  for (const [iMinus1, d] of delays.entries()) {
    const adjusted = iMinus1 === 0 ? d : Math.max(d, previous + 1 / gamma);
    sum += adjusted - iMinus1 / gamma;
    previous = adjusted;
  }
  return sum / delays.length;
}

/** One SimulEval instance: the delays of its emitted units and the length of its source. */
export interface LatencyInstance {
  /** Non-computation-aware delay of each unit: ms of source read when it was emitted. */
  delays: readonly number[];
  /** Computation-aware delay of each unit (wall-clock ms); absent = no CA scores. */
  elapsed?: readonly number[] | undefined;
  sourceLengthMs: number;
  /** Units in the reference, if one is known (SimulEval's `use_ref_len`). */
  referenceLength?: number | undefined;
}

export interface LatencyScores {
  AL: number | null;
  AL_CA: number | null;
  LAAL: number | null;
  LAAL_CA: number | null;
  AP: number | null;
  AP_CA: number | null;
  DAL: number | null;
  DAL_CA: number | null;
}

type Scorer = (delays: readonly number[], sourceLength: number, targetLength: number) => number;

const SCORERS: ReadonlyArray<[keyof LatencyScores & ('AL' | 'LAAL' | 'AP' | 'DAL'), Scorer]> = [
  ['AL', averageLagging],
  ['LAAL', lengthAdaptiveAverageLagging],
  ['AP', averageProportion],
  ['DAL', (delays, sourceLength) => differentiableAverageLagging(delays, sourceLength)],
];

function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Corpus scores as SimulEval reports them: the mean of the per-instance scores, skipping
 * instances without delays (null when none is left). The target length is the reference length
 * when known, else the number of emitted units; an empty reference counts as unknown.
 * Throws AppError('badRequest') if an instance has elapsed times of a different count than delays.
 */
export function scoreLatency(instances: readonly LatencyInstance[]): LatencyScores {
  const perMetric = new Map<keyof LatencyScores, number[]>();
  const add = (key: keyof LatencyScores, value: number) => {
    const list = perMetric.get(key) ?? [];
    list.push(value);
    perMetric.set(key, list);
  };
  for (const instance of instances) {
    if (instance.delays.length === 0 || !(instance.sourceLengthMs > 0)) continue;
    if (instance.elapsed && instance.elapsed.length !== instance.delays.length) {
      throw new AppError('badRequest', 'elapsed times and delays must have the same length');
    }
    const ref = instance.referenceLength;
    const targetLength = ref !== undefined && ref > 0 ? ref : instance.delays.length;
    for (const [name, scorer] of SCORERS) {
      add(name, scorer(instance.delays, instance.sourceLengthMs, targetLength));
      if (instance.elapsed) add(`${name}_CA`, scorer(instance.elapsed, instance.sourceLengthMs, targetLength));
    }
  }
  const get = (key: keyof LatencyScores) => mean(perMetric.get(key) ?? []);
  return {
    AL: get('AL'),
    AL_CA: get('AL_CA'),
    LAAL: get('LAAL'),
    LAAL_CA: get('LAAL_CA'),
    AP: get('AP'),
    AP_CA: get('AP_CA'),
    DAL: get('DAL'),
    DAL_CA: get('DAL_CA'),
  };
}
