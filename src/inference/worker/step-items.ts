import type { KvCache } from './kv-cache.ts';

/**
 * The steps a chunk is made of, as the step loop batches them and the model runner runs them:
 * a prefill per chunk, then one decode step per generated token (every live beam a row). They
 * stay in the worker thread. The decoder's caches are not in the items: they stay in the model's
 * slot arena (slot-arena.ts), and the items say which slot and which lengths.
 */

/** One session's new chunk: encode its audio, then run the prompt through the decoder. */
export interface PrefillItem {
  audio: Float32Array;
  /** Encoder cache and the absolute frame index of the chunk's first frame. */
  encoderCache: KvCache;
  encoderNextFrame: number;
  /** The session's decoder slot and the length of its committed context there. */
  slot: number;
  prefixLength: number;
  /** The absolute position of the first new token. */
  decoderNextPosition: number;
  /** Tokens to feed: pending token(s) of the previous chunk + prompt with speech placeholders. */
  inputIds: Int32Array;
  /** Index in inputIds of the first speech placeholder (they are consecutive). */
  speechOffset: number;
  topK: number;
}

/** The prompt's keys and values are written into the slot's prefix after `prefixLength`. */
export interface PrefillOutput {
  encoderCache: KvCache;
  /** Number of speech embeddings the chunk produced. */
  speechEmbeddings: number;
  topIds: Int32Array;
  topLogProbs: Float32Array;
}

/** One session's decode step: every live beam is one row of the batch. */
export interface DecodeItem {
  slot: number;
  /** The slot's prefix length: the context before this chunk's generated tokens, shared by all beams. */
  prefixLength: number;
  /** Positions every live beam holds in its suffix row (live beams advance together). */
  suffixLength: number;
  /** Absolute position of the tokens fed now. */
  position: number;
  /** Per beam row of the slot: the token fed now, or -1 for a row that does not decode. */
  tokens: Int32Array;
  topK: number;
}

/** Per beam row: the candidates for its next token (null for a row that did not decode); its suffix grew by the token fed. */
export interface DecodeOutput {
  rows: (DecodeCandidates | null)[];
}

export interface DecodeCandidates {
  topIds: Int32Array;
  topLogProbs: Float32Array;
}

/** Rows of a decode item that decode. */
export function liveRows(item: DecodeItem): number {
  let count = 0;
  for (const token of item.tokens) if (token >= 0) count++;
  return count;
}
