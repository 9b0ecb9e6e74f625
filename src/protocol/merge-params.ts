/**
 * The original read scalar parameters from the query string only, while its own test client and
 * evaluation scripts sent JSON bodies (W1). The rule here, in one place: query string first, then
 * the body's fields for names the query lacks. JSON `null` counts as absent.
 */

export type BodyKind = 'json' | 'form' | 'other' | 'none';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Returns the merged parameters. `bodyKinds` lists the body kinds this route reads (JSON for all
 * routes, form too for /delete_session); bodies of other kinds are ignored, as are non-object bodies.
 */
export function mergeParams(
  query: Readonly<Record<string, unknown>>,
  body: unknown,
  bodyKind: BodyKind,
  bodyKinds: readonly BodyKind[],
): Record<string, unknown> {
  const merged: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (bodyKinds.includes(bodyKind) && isPlainObject(body)) {
    for (const [key, value] of Object.entries(body)) {
      if (value !== null && value !== undefined) merged[key] = value;
    }
  }
  for (const [key, value] of Object.entries(query)) merged[key] = value;
  return merged;
}

/** Classifies a request's body by its Content-Type header. */
export function bodyKindOf(contentType: string | undefined, hasBody: boolean): BodyKind {
  if (!hasBody) return 'none';
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') return 'form';
  return 'other';
}
