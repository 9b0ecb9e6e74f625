import type { KvCache } from './kv-cache.ts';

/**
 * The typed payloads of batches sent to a model worker and what comes back. Every Float32Array /
 * Int32Array here crosses the thread boundary as a transferred buffer (see `transferListOf`).
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

/** Fault injection for recovery tests and drills: the worker crashes or hangs on this batch. */
export type InjectedFault = 'crash' | 'hang';

export type ModelBatchRequest =
  | { kind: 'prefill'; model: string; items: PrefillItem[]; fault?: InjectedFault }
  | { kind: 'decode'; model: string; items: DecodeItem[]; fault?: InjectedFault };

/** `computeMs`: the worker's own time on the batch; `cacheBytesCopied`: cache bytes it copied (see `cacheCopyMeter`). */
export type ModelBatchResponse =
  | { kind: 'prefill'; items: PrefillOutput[]; computeMs: number; cacheBytesCopied: number }
  | { kind: 'decode'; items: DecodeOutput[]; computeMs: number; cacheBytesCopied: number };

/**
 * Bytes a message carries between threads: every distinct ArrayBuffer once, whole (transferred or
 * cloned, the whole buffer crosses), 8 per number, 2 per string code unit, 1 per boolean; keys and
 * structure are not counted. The benchmark's `bytesPerDecodeStep` is built from it.
 */
export function messageBytes(message: unknown): number {
  const buffers = new Set<ArrayBufferLike>();
  let bytes = 0;
  const visit = (value: unknown): void => {
    if (typeof value === 'number') bytes += 8;
    else if (typeof value === 'string') bytes += 2 * value.length;
    else if (typeof value === 'boolean') bytes += 1;
    else if (ArrayBuffer.isView(value)) buffers.add(value.buffer);
    else if (value instanceof ArrayBuffer) buffers.add(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(visit);
  };
  visit(message);
  for (const buffer of buffers) bytes += buffer.byteLength;
  return bytes;
}

/** Distinct ArrayBuffers of a payload, so each is transferred once (a buffer may back several views). */
export function transferListOf(arrays: Iterable<ArrayBufferView>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const view of arrays) {
    const buffer = view.buffer;
    if (buffer instanceof ArrayBuffer && buffer.byteLength > 0) seen.add(buffer);
  }
  return [...seen];
}

export function requestArrays(request: ModelBatchRequest): ArrayBufferView[] {
  if (request.kind === 'prefill') {
    return request.items.flatMap((i) => [i.audio, i.encoderCache.data, i.decoderCache.data, i.inputIds]);
  }
  if (request.kind === 'decode') {
    // Suffixes are moved too: the worker hands back each beam's extended suffix, and siblings
    // sharing a parent's buffer are deduplicated by transferListOf.
    return request.items.flatMap((i) => [i.baseCache.data, ...i.beams.map((b) => b.suffixCache.data)]);
  }
  return [];
}

export function responseArrays(response: ModelBatchResponse): ArrayBufferView[] {
  if (response.kind === 'prefill') {
    return response.items.flatMap((o) => [o.encoderCache.data, o.decoderCache.data, o.topIds, o.topLogProbs]);
  }
  if (response.kind === 'decode') {
    return response.items.flatMap((o) => [o.baseCache.data, ...o.beams.flatMap((b) => [b.extendedSuffix.data, b.topIds, b.topLogProbs])]);
  }
  return [];
}
