import type { KvCache } from './kv-cache.ts';

/**
 * The steps a chunk is made of, as the step loop batches them and the model runner runs them:
 * a prefill per chunk, then one decode step per generated token (every live beam a row). They
 * stay in the worker thread.
 */

/** One session's new chunk: encode its audio, then run the prompt through the decoder. */
export interface PrefillItem {
  audio: Float32Array;
  /** Encoder cache and the absolute frame index of the chunk's first frame. */
  encoderCache: KvCache;
  encoderNextFrame: number;
  /** Decoder cache and the absolute position of the first new token. */
  decoderCache: KvCache;
  decoderNextPosition: number;
  /** Tokens to feed: pending token(s) of the previous chunk + prompt with speech placeholders. */
  inputIds: Int32Array;
  /** Index in inputIds of the first speech placeholder (they are consecutive). */
  speechOffset: number;
  topK: number;
}

export interface PrefillOutput {
  encoderCache: KvCache;
  decoderCache: KvCache;
  /** Number of speech embeddings the chunk produced. */
  speechEmbeddings: number;
  topIds: Int32Array;
  topLogProbs: Float32Array;
}

/** One session's decode step: every live beam is one row of the batch. */
export interface DecodeItem {
  /** The session's cache before this chunk's generated tokens (shared by all beams). */
  baseCache: KvCache;
  baseNextPosition: number;
  beams: DecodeBeam[];
  topK: number;
}

export interface DecodeBeam {
  /** Cache of this beam's generated tokens so far except the last. */
  suffixCache: KvCache;
  /** The beam's last token, fed now. */
  token: number;
}

export interface DecodeOutput {
  /** The base cache, handed back unchanged (it travelled with the item). */
  baseCache: KvCache;
  /** Per beam: its suffix cache grown by the token just fed, and the candidates for the next. */
  beams: { extendedSuffix: KvCache; topIds: Int32Array; topLogProbs: Float32Array }[];
}
