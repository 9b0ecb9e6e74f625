/**
 * Seeded generators of hostile inputs for the fuzz test: HTTP requests (routes, methods, query
 * strings, bodies, content types, odd session ids), WebSocket frames, and raw bytes for the HTTP
 * parser. Deterministic for a seed, so a failure can be replayed.
 */

/** mulberry32: a small, fast, seeded PRNG. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let x = this.state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

export const routes = [
  '/init', '/load_model', '/load_models', '/ping', '/delete_session', '/reset_translation', '/update_latency',
  '/queue_status/{id}', '/health', '/readyz', '/livez', '/metrics', '/ray/stats', '/ray/configure', '/dynamic_schedule_stats',
  '/configure_dynamic_schedule', '/debug/session_stats', '/debug/session_history', '/enable_evaluation_mode',
  '/session_delays/{id}', '/session_delays_by_user', '/export_session_delays', '/export_session_delays_by_user',
  '/download_youtube', '/download_youtube/progress', '/test_video/{id}', '/static/{id}', '/', '/nope/{id}', '/wss/{id}',
] as const;

const paramNames = [
  'session_id', 'agent_type', 'language_pair', 'latency_multiplier', 'client_id', 'evaluation_mode', 'user_id', 'filepath',
  'include_details', 'max_batch_size', 'batch_timeout_ms', 'enable_dynamic_batching', 'enabled', 'wait_threshold_ms',
  'min_batch_size', 'url', 'download_id', 'model_type', '__proto__', 'constructor', '', 'a[b]', 'x'.repeat(300),
];

const nastyStrings = [
  '', ' ', '0', '-1', '1e309', 'NaN', 'Infinity', 'null', 'true', 'undefined', '[]', '{}', '0x10', '1.5', '99999999999999999999',
  'English -> Chinese', 'English -> Klingon', 'InfiniSST', '../../etc/passwd', '/etc/passwd', '..\\..\\windows', 'C:\\x',
  '%', '%zz', '%00', '%ED%A0%80', '%C0%AF', '\u0000', '\u202e\u0645\u0631\u062d\u0628\u0627', '😀🙃', '\ud800', 'a\r\nX-Injected: 1',
  '<script>alert(1)</script>', "' OR 1=1 --", '${jndi:ldap://x}', '-rf', '--help', 'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
  'file:///etc/passwd', 'http://169.254.169.254/latest', 'test_None_1_abcdefghijkl', 'client_x_English -> Chinese_1_abcdefghijkl.n9',
];

/** A hostile string: from the list, random unicode, random length, or huge. */
export function nastyString(random: Random, ids: readonly string[]): string {
  const roll = random.next();
  if (roll < 0.35) return random.pick(nastyStrings);
  if (roll < 0.5 && ids.length > 0) return mutateId(random, random.pick(ids));
  if (roll < 0.7) {
    let out = '';
    const length = random.int(0, 40);
    for (let i = 0; i < length; i++) out += String.fromCodePoint(random.chance(0.7) ? random.int(0x20, 0x7e) : random.int(0xa0, 0x2ffff));
    return out;
  }
  if (roll < 0.75) return random.pick(['a', '%', 'é', '0']).repeat(random.int(1_000, 20_000));
  return String(random.int(-5, 40));
}

/** A real id, truncated, extended, with a foreign instance tag, case-flipped or percent-mangled. */
export function mutateId(random: Random, id: string): string {
  switch (random.int(0, 6)) {
    case 0: return id;
    case 1: return id.slice(0, random.int(0, id.length));
    case 2: return `${id}${random.pick(['x', '/', '%2F', '.n7', '\u0000', ' '])}`;
    case 3: return id.toUpperCase();
    case 4: return `${id}.${random.pick(['n1', 'zz', 'a'.repeat(40)])}`;
    case 5: return id.replaceAll(' ', random.pick(['+', '%20', '%2520']));
    default: return `../${id}`;
  }
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** encodeURIComponent, except that a lone surrogate becomes its raw (invalid) UTF-8 bytes. */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value.split(/([\ud800-\udfff])/).map((part) => (/^[\ud800-\udfff]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part))).join('');
  }
}

function encodePathSegment(random: Random, value: string): string {
  // Usually encoded as a browser would; sometimes raw (the URL parser still fixes spaces).
  if (random.chance(0.7)) return encode(value);
  return value.replace(/[\s#?%]|[\ud800-\udfff]/g, (c) => encode(c));
}

function queryString(random: Random, ids: readonly string[]): string {
  const parts: string[] = [];
  const count = random.int(0, 6);
  for (let i = 0; i < count; i++) {
    const name = random.pick(paramNames);
    const value = nastyString(random, ids);
    parts.push(random.chance(0.9) ? `${encode(name)}=${encode(value)}` : `${name}=${value.replace(/[#\s]|[\ud800-\udfff]/g, '')}`);
  }
  if (random.chance(0.05)) parts.push('&&&==&');
  return parts.join('&');
}

function jsonValue(random: Random, ids: readonly string[], depth = 0): unknown {
  const roll = random.next();
  if (depth > 3 || roll < 0.45) return nastyString(random, ids);
  if (roll < 0.55) return random.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, true, false, null]);
  if (roll < 0.7) return Array.from({ length: random.int(0, 5) }, () => jsonValue(random, ids, depth + 1));
  const object: Record<string, unknown> = {};
  for (let i = random.int(0, 5); i > 0; i--) object[random.pick(paramNames)] = jsonValue(random, ids, depth + 1);
  return object;
}

function body(random: Random, ids: readonly string[]): { body?: string | Buffer; contentType?: string } {
  switch (random.int(0, 9)) {
    case 0: return {};
    case 1: return { body: JSON.stringify(jsonValue(random, ids)), contentType: 'application/json' };
    case 2: return { body: `{"session_id": ${'['.repeat(random.int(10, 5_000))}`, contentType: 'application/json' };
    case 3: return { body: random.bytes(random.int(0, 2_000)), contentType: random.pick(['application/json', 'application/octet-stream', 'text/plain']) };
    case 4: return { body: queryString(random, ids), contentType: 'application/x-www-form-urlencoded' };
    case 5: return { body: `--b\r\nContent-Disposition: form-data; name="session_id"\r\n\r\n${nastyString(random, ids)}\r\n--b--`, contentType: random.pick(['multipart/form-data; boundary=b', 'multipart/form-data']) };
    case 6: return { body: 'x'.repeat(1024 * 1024 + random.int(1, 100)), contentType: 'application/json' };
    case 7: return { body: JSON.stringify({ session_id: random.pick([...ids, 'nope']), latency_multiplier: random.pick([0, 2, 99, '2', null]) }), contentType: 'application/json' };
    case 8: return { body: '\uFEFF{"a":1}', contentType: 'application/json; charset=utf-16' };
    default: return { body: JSON.stringify(jsonValue(random, ids)), contentType: random.pick(['text/html', 'application/xml', 'application/json; charset=latin1', '']) };
  }
}

/** One random HTTP request. */
export function httpRequest(random: Random, ids: readonly string[]): FuzzRequest {
  const template = random.pick(routes);
  const path = template.replace('{id}', () => encodePathSegment(random, random.chance(0.5) && ids.length > 0 ? mutateId(random, random.pick(ids)) : nastyString(random, ids)));
  const query = queryString(random, ids);
  const method = random.chance(0.8) ? (template.includes('{id}') || random.chance(0.2) ? 'GET' : 'POST') : random.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  const headers: Record<string, string> = {};
  const payload = method === 'GET' || method === 'HEAD' ? {} : body(random, ids);
  if (payload.contentType) headers['content-type'] = payload.contentType;
  if (random.chance(0.1)) headers.origin = random.pick(['https://evil.example', 'null', 'http://localhost']);
  if (random.chance(0.05)) headers.authorization = `Bearer ${nastyString(random, ids).replace(/[^\x20-\x7e]/g, '')}`;
  if (random.chance(0.05)) headers['x-forwarded-for'] = random.pick(['1.2.3.4', '::1', 'garbage', '1.1.1.1, 2.2.2.2']);
  return { method, path: query ? `${path}?${query}` : path, headers, ...(payload.body !== undefined ? { body: payload.body } : {}) };
}

/** One random WebSocket frame: binary audio of odd sizes and values, or text commands and junk. */
export function wsFrame(random: Random): { data: Buffer | string; isBinary: boolean } {
  const roll = random.next();
  if (roll < 0.45) {
    const samples = random.pick([0, 1, 7, 160, 960, 960, 4_000, 15_360]);
    const floats = new Float32Array(samples);
    for (let i = 0; i < samples; i++) floats[i] = random.chance(0.01) ? random.pick([Number.NaN, Infinity, -Infinity, 1e30]) : random.next() * 2 - 1;
    return { data: Buffer.from(floats.buffer), isBinary: true };
  }
  if (roll < 0.6) return { data: random.bytes(random.pick([1, 2, 3, 5, 6, 7, 9, 4_001, 10_003])), isBinary: true };
  if (roll < 0.61) return { data: random.bytes(random.int(122_000, 131_072) * 4), isBinary: true };
  if (roll < 0.8) return { data: random.pick(['EOF', 'LATENCY:2', 'LATENCY:1', 'LATENCY:0', 'LATENCY:99', 'LATENCY:abc', 'LATENCY:', 'LATENCY:-3', 'eof', 'PING', '']), isBinary: false };
  let text = '';
  for (let i = random.int(0, 200); i > 0; i--) text += String.fromCodePoint(random.int(0x20, 0x2ffff));
  return { data: text, isBinary: false };
}

/** Raw bytes for the HTTP parser: broken request lines, headers and framing, ending in a blank line. */
export function rawRequest(random: Random): Buffer {
  switch (random.int(0, 5)) {
    case 0: return Buffer.concat([random.bytes(random.int(1, 500)), Buffer.from('\r\n\r\n')]);
    case 1: return Buffer.from(`GET /${'a'.repeat(random.int(10, 100_000))} HTTP/1.1\r\nHost: x\r\n\r\n`);
    case 2: return Buffer.from(`POST /init HTTP/1.1\r\nHost: x\r\nContent-Length: ${random.pick(['-1', 'abc', '99999999999', '5, 6'])}\r\n\r\nhello`);
    case 3: return Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${'X-Big: '.concat('b'.repeat(20_000))}\r\n\r\n`);
    case 4: return Buffer.from(`POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${random.bytes(20).toString('latin1')}\r\n\r\n`);
    default: return Buffer.from(`${random.pick(['BREW', 'GET', 'G\u0000T'])} ${random.pick(['*', '/', 'http://x/', '/%'])} HTTP/${random.pick(['0.9', '1.1', '2.0', '9'])}\r\n\r\n`, 'latin1');
  }
}
