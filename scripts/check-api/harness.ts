/**
 * The check harness of `npm run check-api`: one PASS/FAIL line per check, HTTP calls in both
 * parameter styles, and the counts at the end.
 */
export type Json = Record<string, unknown>;

export interface Reply {
  status: number;
  contentType: string;
  json: Json;
  text: string;
}

export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** `promise`, or a failure naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class ApiCheck {
  passed = 0;
  failed = 0;

  constructor(readonly base: string) {}

  /** Runs one check and prints its line; a thrown error is its failure. */
  async check(name: string, body: () => Promise<string | void>): Promise<void> {
    try {
      const note = await body();
      this.passed++;
      console.log(`PASS  ${name}${note ? `  (${note})` : ''}`);
    } catch (error) {
      this.failed++;
      console.log(`FAIL  ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Sends a request; `query` goes to the URL, `body` as JSON (or a form when `form` is set). */
  async call(method: string, path: string, options: { query?: Json; body?: Json; form?: Json; headers?: Record<string, string> } = {}): Promise<Reply> {
    const url = new URL(this.base + path);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { ...options.headers };
    let payload: string | undefined;
    if (options.body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.body);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(Object.entries(options.form).map(([k, v]) => [k, String(v)])).toString();
    }
    const response = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(30_000) });
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    let json: Json = {};
    if (contentType.includes('application/json')) {
      const parsed: unknown = JSON.parse(text);
      json = typeof parsed === 'object' && parsed !== null ? (parsed as Json) : { value: parsed };
    }
    return { status: response.status, contentType, json, text };
  }

  expectJson(reply: Reply, status = 200): Json {
    expect(reply.status === status, `HTTP ${reply.status}, expected ${status}: ${reply.text.slice(0, 200)}`);
    expect(reply.contentType.includes('application/json'), `content type ${reply.contentType || '(none)'}`);
    return reply.json;
  }

  /** Both parameter styles of one POST route. */
  async bothStyles(name: string, path: string, params: Json, verify: (json: Json) => void, headers: Record<string, string> = {}): Promise<void> {
    await this.check(`${name} (query string)`, async () => verify(this.expectJson(await this.call('POST', path, { query: params, headers }))));
    await this.check(`${name} (JSON body)`, async () => verify(this.expectJson(await this.call('POST', path, { body: params, headers }))));
  }
}
