/**
 * A minimal multipart/form-data reader for text fields, enough for a `navigator.sendBeacon`
 * FormData carrying `session_id` to /delete_session (spec §1.3.5). File parts are skipped.
 *
 * Written with splits and index scans only: every step is linear in the body, whatever a client
 * sends (a regular expression over the part headers once took 45 s on a 1 MiB body).
 */

/** A multipart body as received: parsed only by a route that reads form fields. */
export class MultipartBody {
  constructor(
    readonly raw: Buffer,
    readonly contentType: string,
  ) {}
}

/** `key=value` parameters of a header value (after its first `;`), keys lower-cased, quotes removed. */
function headerParameters(value: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const item of value.split(';').slice(1)) {
    const equals = item.indexOf('=');
    if (equals < 0) continue;
    let text = item.slice(equals + 1).trim();
    if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1);
    parameters.set(item.slice(0, equals).trim().toLowerCase(), text);
  }
  return parameters;
}

/** The form field name of a part's headers; undefined for file parts and parts without one. */
function fieldNameOf(headers: string): string | undefined {
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    const parameters = headerParameters(line.slice(colon + 1));
    if (parameters.has('filename') || parameters.has('filename*')) return undefined;
    const name = parameters.get('name');
    return name === '' ? undefined : name;
  }
  return undefined;
}

/** Parses the text fields of a multipart body. Throws on a missing boundary. */
export function parseMultipartFields(body: Buffer, contentType: string): Record<string, string> {
  const boundary = headerParameters(contentType).get('boundary')?.trim();
  if (!boundary) throw new Error('multipart/form-data body without a boundary');
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const text = body.toString('latin1');
  for (const part of text.split(`--${boundary}`)) {
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const name = fieldNameOf(part.slice(0, headerEnd));
    if (name === undefined) continue;
    let value = part.slice(headerEnd + 4);
    if (value.endsWith('\r\n')) value = value.slice(0, -2);
    fields[name] = Buffer.from(value, 'latin1').toString('utf8');
  }
  return fields;
}
