/**
 * Query-string parsing with URLSearchParams semantics: `+` is a space and `%XX` is decoded, as the
 * browser's URLSearchParams and aiohttp encode them. Repeated keys: the last one wins (as in
 * FastAPI for scalar parameters).
 */

/** Never throws; malformed escapes are kept literally (URLSearchParams behaviour). */
export function parseQueryString(query: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(query)) out[key] = value;
  return out;
}
