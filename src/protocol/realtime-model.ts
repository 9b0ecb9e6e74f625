/**
 * Which language pair a realtime translation session serves. A Realtime client names a *model*
 * (here: a served pair, "English -> German", or a model package, "tiny-en-de") and an output
 * language ("de", "German"); our extension may name the pair outright.
 */
import { AppError } from '../errors.ts';
import { parseLanguagePair } from '../evaluation/language.ts';
import type { LanguagePairInfo } from '../inference/translation-engine.ts';

export interface PairChoice {
  model?: string | undefined;
  outputLanguage?: string | undefined;
  languagePair?: string | undefined;
}

export type PairResolution =
  | { kind: 'pair'; info: LanguagePairInfo }
  /** Not enough said yet (a package serving several pairs, no output language): wait for session.update. */
  | { kind: 'undecided'; reason: string }
  | { kind: 'unknown'; reason: string };

function matchesLanguage(info: LanguagePairInfo, language: string): boolean {
  const wanted = language.trim().toLowerCase();
  const { target, targetCode } = parseLanguagePair(info.languagePair);
  // "German", "de", or a regional tag such as "de-DE".
  return target.toLowerCase() === wanted || (targetCode !== undefined && (wanted === targetCode || wanted.startsWith(`${targetCode}-`) || wanted.startsWith(`${targetCode}_`)));
}

function servedList(served: readonly LanguagePairInfo[]): string {
  const models = [...new Set(served.map((info) => info.modelName))];
  return `served pairs: ${served.map((info) => `"${info.languagePair}"`).join(', ') || 'none'}; models: ${models.join(', ') || 'none'}`;
}

export function resolveLanguagePair(choice: PairChoice, served: readonly LanguagePairInfo[]): PairResolution {
  if (choice.languagePair !== undefined) {
    const info = served.find((candidate) => candidate.languagePair === choice.languagePair);
    return info ? { kind: 'pair', info } : { kind: 'unknown', reason: `language pair "${choice.languagePair}" is not served (${servedList(served)})` };
  }
  if (choice.model === undefined || choice.model === '') {
    return { kind: 'undecided', reason: 'no model chosen: connect with ?model=<language pair or model> or set session.infinisst.language_pair' };
  }
  const byPair = served.filter((info) => info.languagePair === choice.model);
  const candidates = byPair.length > 0 ? byPair : served.filter((info) => info.modelName === choice.model);
  if (candidates.length === 0) return { kind: 'unknown', reason: `model "${choice.model}" is not served (${servedList(served)})` };
  if (choice.outputLanguage !== undefined) {
    const chosen = candidates.find((info) => matchesLanguage(info, choice.outputLanguage ?? ''));
    if (chosen) return { kind: 'pair', info: chosen };
    return { kind: 'unknown', reason: `model "${choice.model}" does not translate into "${choice.outputLanguage}" (its pairs: ${candidates.map((info) => `"${info.languagePair}"`).join(', ')})` };
  }
  if (candidates.length === 1 && candidates[0]) return { kind: 'pair', info: candidates[0] };
  return { kind: 'undecided', reason: `model "${choice.model}" serves several pairs; set session.audio.output.language (${candidates.map((info) => parseLanguagePair(info.languagePair).targetCode ?? info.languagePair).join(', ')})` };
}

/**
 * What a `session.update` makes of the choice so far: a new output language or pair replaces the
 * old; the model is fixed once chosen. Throws AppError('validationFailed') for another model.
 */
export function updatedChoice(current: PairChoice, requested: PairChoice): PairChoice {
  if (requested.model !== undefined && current.model !== undefined && requested.model !== current.model) {
    throw new AppError('validationFailed', `the model is fixed when the session is created ("${current.model}"); open a new connection for another`);
  }
  return {
    model: current.model ?? requested.model,
    outputLanguage: requested.outputLanguage ?? current.outputLanguage,
    languagePair: requested.languagePair ?? current.languagePair,
  };
}

/** The output language a pair is reported with (ISO code when known, else the target's name). */
export function outputLanguageOf(languagePair: string): string {
  const parsed = parseLanguagePair(languagePair);
  return parsed.targetCode ?? parsed.target;
}
