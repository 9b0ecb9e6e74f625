/**
 * Session ids keep the original's shape `<client_id|agent_type>_<language_pair>_<ms>` (clients
 * log and display them) and append `_<12 random base-36 characters>` (~62 bits) so that an id
 * cannot be guessed from a client id and a time stamp (W11). Nothing parses ids back (W4).
 */
import { randomBytes } from 'node:crypto';

const suffixLength = 12;
const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';

/** 12 unbiased random base-36 characters. */
export function randomSuffix(): string {
  let out = '';
  while (out.length < suffixLength) {
    for (const byte of randomBytes(suffixLength * 2)) {
      // 252 = 7 × 36: rejecting larger bytes keeps every character equally likely.
      if (byte < 252 && out.length < suffixLength) out += alphabet[byte % 36];
    }
  }
  return out;
}

/** `/init` ids: prefix is the client id if given, else the agent type. */
export function createSessionId(prefix: string, languagePair: string, nowMs: number, suffix = randomSuffix()): string {
  return `${prefix}_${languagePair}_${Math.floor(nowMs)}_${suffix}`;
}

/** `/load_model` ids: `test_<client_id>_<unix seconds>` in the original. */
export function createTestSessionId(clientId: string | undefined, nowMs: number, suffix = randomSuffix()): string {
  return `test_${clientId ?? 'None'}_${Math.floor(nowMs / 1000)}_${suffix}`;
}

/**
 * With several server instances behind nginx, each appends `.<tag>` to the ids it creates so
 * that nginx can route every request naming a session to its owner. "." never appears in the
 * rest of the id's tail and is never percent-encoded, so the tag reads the same in a decoded
 * path, a raw query string and a JSON body.
 */
export function withInstanceTag(suffix: string, tag: string | null | undefined): string {
  return tag ? `${suffix}.${tag}` : suffix;
}

const suffixPattern = new RegExp(`_[0-9a-z]{${suffixLength}}(\\.[a-z][a-z0-9]{0,15})?$`);
const tagPattern = new RegExp(`_[0-9a-z]{${suffixLength}}\\.([a-z][a-z0-9]{0,15})$`);

/** The instance tag of an id created by a tagged instance; undefined otherwise. */
export function instanceTagOf(id: string): string | undefined {
  return tagPattern.exec(id)?.[1];
}

/** The id with its secret part masked, for public listings (/health, /debug). */
export function maskSessionId(id: string): string {
  const match = suffixPattern.exec(id);
  if (!match) return id;
  const tag = match[1] ?? '';
  return `${id.slice(0, match.index + 1)}${'*'.repeat(suffixLength)}${tag}`;
}

/** Every `/init` or `/load_model` id inside `text` (a URL, a log message) with its secret part masked. */
const embeddedIdPattern = /_(\d{10,16})_[0-9a-z]{12}/g;
export function maskSessionIdsIn(text: string): string {
  return text.replace(embeddedIdPattern, `_$1_${'*'.repeat(suffixLength)}`);
}
