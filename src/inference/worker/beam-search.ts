/**
 * One hypothesis of a chunk's output. Its suffix (every token but the last, which is fed next)
 * lives in beam row `row` of its session's slot (slot-arena.ts).
 */
export interface Hypothesis {
  tokens: number[];
  logProb: number;
  isFinished: boolean;
  row: number;
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

/** A suffix copy a step needs: beam row `to` gets the first `length` positions of row `from`. */
export interface RowCopy {
  from: number;
  to: number;
  length: number;
}

function score(h: { tokens: number[]; logProb: number }, lengthPenalty: number): number {
  return h.logProb / Math.pow(Math.max(1, h.tokens.length), lengthPenalty);
}

function isDone(tokens: number[], config: BeamSearchConfig): boolean {
  const last = tokens[tokens.length - 1];
  return (last !== undefined && config.endOfChunk.has(last)) || tokens.length >= config.maxNewTokens;
}

/** First beams from the prefill's candidates: the `beamSize` best first tokens (greedy: one), in rows 0, 1, … */
export function startBeams(first: Candidates, config: BeamSearchConfig): Hypothesis[] {
  const beams: Hypothesis[] = [];
  for (let i = 0; i < first.topIds.length && beams.length < config.beamSize; i++) {
    const id = first.topIds[i] ?? -1;
    if (id < 0) continue;
    const tokens = [id];
    beams.push({ tokens, logProb: first.topLogProbs[i] ?? -Infinity, isFinished: isDone(tokens, config), row: beams.length });
  }
  if (beams.length === 0) {
    // The model produced no usable candidate (e.g. NaN logits): end the chunk with no text.
    beams.push({ tokens: [], logProb: 0, isFinished: true, row: 0 });
  }
  return beams;
}

/**
 * One beam-search step. `live` are the unfinished beams of `beams`, in order, and `outputs[i]` is
 * the decode result of `live[i]`, whose suffix row now holds all its tokens. Finished beams
 * compete with the extensions on length-normalised log-probability; ties keep the earlier
 * hypothesis, so the outcome never depends on batch composition.
 *
 * Rows: a finished beam keeps its row; a parent's first surviving child takes over the parent's
 * row as it is; any further child gets a free row and a copy of the parent's suffix (`copies`,
 * to be done before the next step). No row is written while another still needs to read it.
 */
export function stepBeams(beams: Hypothesis[], outputs: Candidates[], config: BeamSearchConfig): { beams: Hypothesis[]; copies: RowCopy[] } {
  const live = beams.filter((b) => !b.isFinished);
  type Pending = { parent: Hypothesis; tokens: number[]; logProb: number; order: number };
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
      pool.push({ parent: beam, tokens: [...beam.tokens, id], logProb: beam.logProb + (out.topLogProbs[i] ?? -Infinity), order: order++ });
    }
    if (!extended) pool.push({ carried: { ...beam, isFinished: true }, order: order++ });
  });
  const keyed = pool.map((entry) => ({ entry, s: 'carried' in entry ? score(entry.carried, config.lengthPenalty) : score(entry, config.lengthPenalty) }));
  keyed.sort((a, b) => b.s - a.s || a.entry.order - b.entry.order);
  const chosen = keyed.slice(0, config.beamSize).map(({ entry }) => entry);

  const taken = new Set<number>();
  for (const entry of chosen) if ('carried' in entry) taken.add(entry.carried.row);
  const inherits = new Set<Pending>();
  for (const entry of chosen) {
    if ('carried' in entry || taken.has(entry.parent.row)) continue;
    taken.add(entry.parent.row);
    inherits.add(entry);
  }
  const freeRows: number[] = [];
  for (let row = 0; row < config.beamSize; row++) if (!taken.has(row)) freeRows.push(row);
  const copies: RowCopy[] = [];
  const next = chosen.map((entry): Hypothesis => {
    if ('carried' in entry) return entry.carried;
    let row = entry.parent.row;
    if (!inherits.has(entry)) {
      const free = freeRows.shift();
      if (free === undefined) throw new Error('beam search: more hypotheses than beam rows');
      row = free;
      copies.push({ from: entry.parent.row, to: row, length: entry.parent.tokens.length });
    }
    return { tokens: entry.tokens, logProb: entry.logProb, isFinished: isDone(entry.tokens, config), row };
  });
  return { beams: next, copies };
}

/** The winning hypothesis once every beam finished. */
export function bestBeam(beams: Hypothesis[], lengthPenalty: number): Hypothesis {
  let best = beams[0];
  for (const beam of beams) if (best === undefined || score(beam, lengthPenalty) > score(best, lengthPenalty)) best = beam;
  if (!best) throw new Error('beam search: no hypotheses');
  return best;
}
