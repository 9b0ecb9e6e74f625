/**
 * The four embedded packages: one per language pair of the original API. Everything that differs
 * between them (vocabulary, joiner, system-prompt words, end-of-chunk bias) is declared here.
 */
import { chineseCharacters, chinesePunctuation } from './vocabulary/chinese.ts';
import { germanWords } from './vocabulary/german.ts';
import { italianWords } from './vocabulary/italian.ts';
import { spanishWords } from './vocabulary/spanish.ts';
import { plainVocabulary, sentencePieceVocabulary, WORD_BOUNDARY } from './vocabulary.ts';
import type { Vocabulary } from './vocabulary.ts';
import { benchDecoderDims } from './tiny-dimensions.ts';
import type { DecoderDims } from './tiny-dimensions.ts';

export interface TinyPackageDefinition {
  /** Folder name under models/, also the seed of every weight. */
  name: string;
  /** Exact pair string of the original API. */
  languagePair: string;
  targetLanguage: string;
  decoding: 'plain' | 'sentencepiece';
  targetJoiner: string;
  vocabulary: Vocabulary;
  /** Ids of the system prompt's words ("translate into <target>"), between `<|system|>` and `<|end|>`. */
  instructionIds: number[];
  /**
   * Logit bias of the end-of-chunk token, tuned by measurement so that greedy decoding of noise and
   * tones ends about 35-40% of chunks before the token limit (20-60% is required by
   * test/scripts/models/eos-rate.test.ts). It differs per package because the weights do; re-tune it
   * whenever the decoder's dimensions or init change.
   */
  endOfChunkBias: number;
  /** Decoder shape; default: the embedded tiny models' `decoderDims`. */
  decoderDims?: DecoderDims;
}

function words(vocabulary: Vocabulary, text: string): number[] {
  return text.split(' ').map((word) => vocabulary.idOf(WORD_BOUNDARY + word));
}

function characters(vocabulary: Vocabulary, text: string): number[] {
  return Array.from(text, (character) => vocabulary.idOf(character));
}

/** Builds the four package definitions (fresh objects each call). */
export function tinyPackageDefinitions(): TinyPackageDefinition[] {
  const zh = plainVocabulary([...chineseCharacters, ...chinesePunctuation]);
  const it = sentencePieceVocabulary(italianWords);
  const de = sentencePieceVocabulary(germanWords);
  const es = sentencePieceVocabulary(spanishWords);
  return [
    {
      name: 'tiny-en-zh',
      languagePair: 'English -> Chinese',
      targetLanguage: 'Chinese',
      decoding: 'plain',
      targetJoiner: '',
      vocabulary: zh,
      instructionIds: characters(zh, '把英语翻译成中文'),
      endOfChunkBias: 1.5,
    },
    {
      name: 'tiny-en-it',
      languagePair: 'English -> Italian',
      targetLanguage: 'Italian',
      decoding: 'sentencepiece',
      targetJoiner: ' ',
      vocabulary: it,
      instructionIds: words(it, 'traduci in italiano'),
      endOfChunkBias: 2.9,
    },
    {
      name: 'tiny-en-de',
      languagePair: 'English -> German',
      targetLanguage: 'German',
      decoding: 'sentencepiece',
      targetJoiner: ' ',
      vocabulary: de,
      instructionIds: words(de, 'übersetze ins Deutsche'),
      endOfChunkBias: 1.7,
    },
    {
      name: 'tiny-en-es',
      languagePair: 'English -> Spanish',
      targetLanguage: 'Spanish',
      decoding: 'sentencepiece',
      targetJoiner: ' ',
      vocabulary: es,
      instructionIds: words(es, 'traduce al español'),
      endOfChunkBias: 1.7,
    },
  ];
}

/**
 * The benchmark package: English -> German with the bench-shaped decoder (see `benchDecoderDims`).
 * Generated on demand into a cache folder (scripts/models/bench-package.ts), never committed.
 */
export function benchPackageDefinition(): TinyPackageDefinition {
  const german = tinyPackageDefinitions().find((definition) => definition.name === 'tiny-en-de');
  if (!german) throw new Error('tiny-en-de definition missing');
  return { ...german, name: 'bench-en-de', decoderDims: benchDecoderDims };
}
