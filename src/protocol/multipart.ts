/**
 * A minimal multipart/form-data reader for text fields, enough for a `navigator.sendBeacon`
 * FormData carrying `session_id` to /delete_session (spec §1.3.5). File parts are skipped.
 */

/** Parses the text fields of a multipart body. Throws on a missing boundary. */
export function parseMultipartFields(body: Buffer, contentType: string): Record<string, string> {
  const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw new Error('multipart/form-data body without a boundary');
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const text = body.toString('latin1');
  for (const part of text.split(`--${boundary.trim()}`)) {
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const headers = part.slice(0, headerEnd);
    const nameMatch = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(headers);
    if (!nameMatch?.[1] || /\bfilename=/i.test(headers)) continue;
    let value = part.slice(headerEnd + 4);
    if (value.endsWith('\r\n')) value = value.slice(0, -2);
    fields[nameMatch[1]] = Buffer.from(value, 'latin1').toString('utf8');
  }
  return fields;
}
