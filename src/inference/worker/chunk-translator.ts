import { AppError } from '../../errors.ts';
import type { DecodeCandidates, DecodeItem, DecodeOutput, PrefillItem, PrefillOutput } from './step-items.ts';
import { bestBeam, startBeams, stepBeams, type BeamSearchConfig, type Hypothesis } from './beam-search.ts';
import { emptyCache, type KvCache } from './kv-cache.ts';
import type { ModelPackage } from '../manifest.ts';
import type { SlotArena } from './slot-arena.ts';
import { decodeTokens } from './token-decoder.ts';

/**
 * A session's model state between chunks; it lives in the worker hosting the session
 * (session-host.ts). The decoder's cache is the slot's prefix in the model's arena.
 */
export interface ModelState {
  encoderCache: KvCache;
  encoderNextFrame: number;
  slot: number;
  /** Committed positions in the slot's prefix. */
  decoderLength: number;
  decoderNextPosition: number;
  /** Tokens chosen but not yet fed (the previous chunk's last token). */
  pendingTokens: number[];
  /** First chunk of the stream (or after a reset) uses the `first` prompt with the system prompt. */
  hasContext: boolean;
}

export function freshModelState(slot: number): ModelState {
  return { encoderCache: emptyCache(), encoderNextFrame: 0, slot, decoderLength: 0, decoderNextPosition: 0, pendingTokens: [], hasContext: false };
}

export type BatchItem = { key: string; prefill: PrefillItem } | { key: string; decode: DecodeItem };
export type BatchOutput = PrefillOutput | DecodeOutput;

/**
 * Hands one prefill or decode step to whatever batches steps (the worker's step loop, or a test's
 * batcher) and resolves with that step's output.
 */
export type SubmitStep = (lane: 'prefill' | 'decode', item: BatchItem) => Promise<BatchOutput>;

export interface ChunkTranslation {
  state: ModelState;
  tokens: number[];
  text: string;
}

/**
 * The streaming policy for one model: a chunk is one prefill then decode steps until every beam
 * ends the chunk or reaches 10 × multiplier tokens (spec §6.4), each step a batch item that the
 * dynamic batcher groups with other sessions' work.
 */
export class ChunkTranslator {
  constructor(
    readonly pkg: ModelPackage,
    private readonly submit: SubmitStep,
    private readonly beamSize: number,
    /** The model's decoder caches in this thread (the runner's); beam reorders and chunk ends update it in place. */
    readonly arena: SlotArena,
  ) {
    if (beamSize > arena.layout.beams) throw new Error(`beam size ${beamSize} exceeds the ${arena.layout.beams} beam rows of the model's slot arena`);
  }

  private readonly inFlight = new Set<Promise<unknown>>();
  private isDraining = false;

  /**
   * Translates one whole chunk; `state` is not modified (the result carries the next one), and
   * neither is the slot's committed context until the chunk succeeded: only the end of the chunk
   * appends to it (in place), so a chunk that fails or is cancelled leaves the context as it was.
   * Throws AppError('engineClosed') once `drain()` was called: a chunk is many batches, so it must
   * not start when the batchers are about to close. `isCancelled` is asked before every step:
   * once it says yes, the chunk stops there with AppError('chunkCancelled') and its rows leave
   * the batch.
   */
  translate(key: string, state: ModelState, audio: Float32Array, multiplier: number, languagePair: string, isCancelled: () => boolean = () => false): Promise<ChunkTranslation> {
    if (this.isDraining) return Promise.reject(new AppError('engineClosed', 'the engine is shutting down'));
    const run = this.run(key, state, audio, multiplier, languagePair, isCancelled);
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Refuses new chunks and resolves when every chunk in progress finished (its text delivered). */
  async drain(): Promise<void> {
    this.isDraining = true;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(key: string, state: ModelState, audio: Float32Array, multiplier: number, languagePair: string, isCancelled: () => boolean): Promise<ChunkTranslation> {
    const m = this.pkg.manifest;
    const pair = m.languagePairs[languagePair];
    if (!pair) throw new Error(`model ${m.name} does not serve ${languagePair}`);
    // A model trained with the latency in its system prompt (InfiniSST HEAD's <latency_m>) has one
    // first prompt per multiplier.
    const template = state.hasContext ? pair.prompt.next : (pair.prompt.firstByMultiplier?.[String(multiplier)] ?? pair.prompt.first);
    const speechCount = m.encoder.embeddingsPerSegment * multiplier;
    const inputIds = Int32Array.from([
      ...state.pendingTokens,
      ...template.prefix,
      ...new Array<number>(speechCount).fill(m.specialTokens.speechPlaceholder),
      ...template.suffix,
    ]);
    const config: BeamSearchConfig = {
      beamSize: this.beamSize,
      maxNewTokens: m.generation.maxNewTokensPerMultiplier * multiplier,
      endOfChunk: new Set(m.specialTokens.endOfChunk),
      lengthPenalty: m.generation.lengthPenalty,
    };
    const topK = Math.max(2 * this.beamSize, 2);
    const stopIfCancelled = (): void => {
      if (isCancelled()) throw new AppError('chunkCancelled');
    };
    stopIfCancelled();
    // Read before submitting: a step handed to another thread may move (detach) its arrays.
    const baseNextPosition = state.decoderNextPosition + inputIds.length;
    const prefill = (await this.submit('prefill', {
      key,
      prefill: {
        audio,
        encoderCache: state.encoderCache,
        encoderNextFrame: state.encoderNextFrame,
        slot: state.slot,
        prefixLength: state.decoderLength,
        decoderNextPosition: state.decoderNextPosition,
        inputIds,
        speechOffset: state.pendingTokens.length + template.prefix.length,
        topK,
      },
    })) as PrefillOutput;

    const prefixLength = state.decoderLength + inputIds.length;
    let beams: Hypothesis[] = startBeams({ topIds: prefill.topIds, topLogProbs: prefill.topLogProbs }, config);
    while (beams.some((b) => !b.isFinished)) {
      stopIfCancelled();
      const live = beams.filter((b) => !b.isFinished);
      const suffixLength = (live[0]?.tokens.length ?? 1) - 1;
      const tokens = new Int32Array(this.arena.layout.beams).fill(-1);
      for (const beam of live) tokens[beam.row] = beam.tokens[beam.tokens.length - 1] ?? m.specialTokens.pad;
      const step = (await this.submit('decode', {
        key,
        decode: { slot: state.slot, prefixLength, suffixLength, position: baseNextPosition + suffixLength, tokens, topK },
      })) as DecodeOutput;
      const outputs = live.map((beam): DecodeCandidates => {
        const out = step.rows[beam.row];
        if (!out) throw new Error('beam search: no decode output for a live beam');
        return out;
      });
      const next = stepBeams(beams, outputs, config);
      for (const copy of next.copies) this.arena.copySuffix(state.slot, copy.from, copy.to, copy.length);
      beams = next.beams;
    }
    stopIfCancelled();

    const winner = bestBeam(beams, config.lengthPenalty);
    const contextTokens = Math.max(0, winner.tokens.length - 1);
    const keepPrefix = m.decoder.keepPrefixTokens > 0 ? m.decoder.keepPrefixTokens : pair.prompt.first.prefix.length;
    const decoderLength = this.arena.commit(state.slot, prefixLength, winner.row, contextTokens, m.decoder.maxCacheTokens, keepPrefix);
    const last = winner.tokens[winner.tokens.length - 1];
    return {
      state: {
        encoderCache: prefill.encoderCache,
        encoderNextFrame: state.encoderNextFrame + m.encoder.framesPerSegment * multiplier,
        slot: state.slot,
        decoderLength,
        decoderNextPosition: baseNextPosition + contextTokens,
        pendingTokens: last === undefined ? [] : [last],
        hasContext: true,
      },
      tokens: winner.tokens,
      text: decodeTokens(winner.tokens, this.pkg.tokens, m).trim(),
    };
  }
}
