import { emptyCache, type KvCache } from './kv-cache.ts';

/** One hypothesis of a chunk's output. Its cache covers every token but the last (fed next). */
export interface Hypothesis {
  tokens: number[];
  logProb: number;
  isFinished: boolean;
  suffixCache: KvCache;
}

export interface BeamSearchConfig {
  beamSize: number;
  maxNewTokens: number;
  endOfChunk: ReadonlySet<number>;
  lengthPenalty: number;
}

export interface Candidates {
  topIds: Int32Array;
  topLogProbs: Float32Array;
}

function score(h: { tokens: number[]; logProb: number }, lengthPenalty: number): number {
  return h.logProb / Math.pow(Math.max(1, h.tokens.length), lengthPenalty);
}

function isDone(tokens: number[], config: BeamSearchConfig): boolean {
  const last = tokens[tokens.length - 1];
  return (last !== undefined && config.endOfChunk.has(last)) || tokens.length >= config.maxNewTokens;
}

/** First beams from the prefill's candidates: the `beamSize` best first tokens (greedy: one). */
export function startBeams(first: Candidates, config: BeamSearchConfig): Hypothesis[] {
  const beams: Hypothesis[] = [];
  for (let i = 0; i < first.topIds.length && beams.length < config.beamSize; i++) {
    const id = first.topIds[i] ?? -1;
    if (id < 0) continue;
    const tokens = [id];
    beams.push({ tokens, logProb: first.topLogProbs[i] ?? -Infinity, isFinished: isDone(tokens, config), suffixCache: emptyCache() });
  }
  if (beams.length === 0) {
    // The model produced no usable candidate (e.g. NaN logits): end the chunk with no text.
    beams.push({ tokens: [], logProb: 0, isFinished: true, suffixCache: emptyCache() });
  }
  return beams;
}

/**
 * One beam-search step. `live` are the unfinished beams of `beams`, in order, and `outputs[i]` is
 * the decode result of `live[i]` (its suffix cache grown by its last token, and the candidates).
 * Finished beams compete with the extensions on length-normalised log-probability; ties keep
 * the earlier hypothesis, so the outcome never depends on batch composition.
 */
export function stepBeams(
  beams: Hypothesis[],
  outputs: { extendedSuffix: KvCache; topIds: Int32Array; topLogProbs: Float32Array }[],
  config: BeamSearchConfig,
): Hypothesis[] {
  const live = beams.filter((b) => !b.isFinished);
  type Pending = { parent: number; tokens: number[]; logProb: number; order: number };
  const pool: (Pending | { carried: Hypothesis; order: number })[] = [];
  let order = 0;
  for (const beam of beams) if (beam.isFinished) pool.push({ carried: beam, order: order++ });
  live.forEach((beam, parent) => {
    const out = outputs[parent];
    if (!out) throw new Error('beam search: missing decode output for a live beam');
    let extended = false;
    for (let i = 0; i < out.topIds.length; i++) {
      const id = out.topIds[i] ?? -1;
      if (id < 0) continue;
      extended = true;
      pool.push({ parent, tokens: [...beam.tokens, id], logProb: beam.logProb + (out.topLogProbs[i] ?? -Infinity), order: order++ });
    }
    if (!extended) pool.push({ carried: { ...beam, isFinished: true }, order: order++ });
  });
  const keyed = pool.map((entry) => ({ entry, s: 'carried' in entry ? score(entry.carried, config.lengthPenalty) : score(entry, config.lengthPenalty) }));
  keyed.sort((a, b) => b.s - a.s || a.entry.order - b.entry.order);
  return keyed.slice(0, config.beamSize).map(({ entry }) => {
    if ('carried' in entry) return entry.carried;
    const out = outputs[entry.parent];
    if (!out) throw new Error('beam search: parent vanished');
    const isFinished = isDone(entry.tokens, config);
    // Live siblings share their parent's buffer (it is moved to the worker next step); a finished
    // hypothesis keeps a copy of its own so that move cannot take its cache away.
    const suffixCache = isFinished ? { data: out.extendedSuffix.data.slice(), length: out.extendedSuffix.length } : out.extendedSuffix;
    return { tokens: entry.tokens, logProb: entry.logProb, isFinished, suffixCache };
  });
}

/** The winning hypothesis once every beam finished. */
export function bestBeam(beams: Hypothesis[], lengthPenalty: number): Hypothesis {
  let best = beams[0];
  for (const beam of beams) if (best === undefined || score(beam, lengthPenalty) > score(best, lengthPenalty)) best = beam;
  if (!best) throw new Error('beam search: no hypotheses');
  return best;
}
