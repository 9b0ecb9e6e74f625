/**
 * Token tables of the tiny models. Special tokens take the first ids in every package; the rest
 * are real pieces of the target language, so the (meaningless) output at least looks like text.
 */

/** Special tokens, in id order. */
export const SPECIAL_TOKENS = ['<pad>', '<speech>', '<eoc>', '<s>', '<|system|>', '<|user|>', '<|assistant|>', '<|end|>'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** The id of a special token (its index in SPECIAL_TOKENS). */
export function specialId(token: SpecialToken): number {
  return SPECIAL_TOKENS.indexOf(token);
}

/** SentencePiece's word-boundary marker: a piece starting with it begins a new word. */
export const WORD_BOUNDARY = '\u2581';

const LATIN_LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
const LATIN_PUNCTUATION = ['.', ',', '?', '!', ':', ';', "'", '-', '"'];

export interface Vocabulary {
  tokens: readonly string[];
  /** Id of `piece`; throws if the piece is not in the table. */
  idOf(piece: string): number;
}

/** SentencePiece-style table: `▁word` for whole words, bare letters and punctuation to continue a word. */
export function sentencePieceVocabulary(words: readonly string[]): Vocabulary {
  return vocabularyOf([...words.map((word) => WORD_BOUNDARY + word), ...LATIN_LETTERS, ...LATIN_PUNCTUATION]);
}

/** Plain table (pieces concatenated as they are), as used for the Chinese package. */
export function plainVocabulary(pieces: readonly string[]): Vocabulary {
  return vocabularyOf(pieces);
}

function vocabularyOf(pieces: readonly string[]): Vocabulary {
  const tokens = [...SPECIAL_TOKENS, ...pieces];
  const ids = new Map<string, number>();
  tokens.forEach((piece, id) => {
    // A duplicate would make one of the two ids unreachable by lookup: keep the lists clean instead.
    if (ids.has(piece)) throw new Error(`duplicate vocabulary piece ${JSON.stringify(piece)}`);
    ids.set(piece, id);
  });
  return {
    tokens,
    idOf(piece: string): number {
      const id = ids.get(piece);
      if (id === undefined) throw new Error(`piece ${JSON.stringify(piece)} is not in the vocabulary`);
      return id;
    },
  };
}
