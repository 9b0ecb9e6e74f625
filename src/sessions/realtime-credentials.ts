/**
 * Who may open a realtime translation session. With no key configured (no `admin.token`, no
 * `realtime.apiKeys`) the server stays open, as the rest of the API. With keys, a connection must
 * present one of them or a client secret minted with one: a short-lived token (`ek_…`) a backend
 * hands to a browser, good for one session, so the browser never holds the real key.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Clock } from './clock.ts';

export interface ClientSecret {
  value: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/** Live secrets held at most: minting beyond this forgets the oldest (each is single-use anyway). */
const MAX_LIVE_SECRETS = 10_000;

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class RealtimeCredentials {
  private readonly secrets = new Map<string, number>();

  constructor(
    private readonly keys: readonly string[],
    private readonly clock: Clock,
  ) {}

  /** True when no key is configured: anyone may connect. */
  get isOpen(): boolean {
    return this.keys.length === 0;
  }

  /** True when `token` is a configured key (or anyone may connect). */
  isKey(token: string | undefined): boolean {
    if (this.isOpen) return true;
    return token !== undefined && this.keys.some((key) => sameSecret(key, token));
  }

  /** A new client secret valid for `ttlSeconds` (10 s to 2 h, as the Realtime API allows). */
  mint(ttlSeconds: number): ClientSecret {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 10 || ttlSeconds > 7200) {
      throw new AppError('validationFailed', `expires_after.seconds must be an integer from 10 to 7200, got ${ttlSeconds}`);
    }
    this.forgetExpired();
    if (this.secrets.size >= MAX_LIVE_SECRETS) {
      const oldest = this.secrets.keys().next().value;
      if (oldest !== undefined) this.secrets.delete(oldest);
    }
    const value = `ek_${randomBytes(24).toString('base64url')}`;
    const expiresAtMs = this.clock.now() + ttlSeconds * 1000;
    this.secrets.set(value, expiresAtMs);
    return { value, expiresAt: Math.floor(expiresAtMs / 1000) };
  }

  /**
   * Whether a connection presenting `token` may open a session: a configured key, or a live client
   * secret, which is used up by this call.
   */
  admit(token: string | undefined): boolean {
    if (this.isKey(token)) return true;
    if (token === undefined || !token.startsWith('ek_')) return false;
    const expiresAtMs = this.secrets.get(token);
    if (expiresAtMs === undefined) return false;
    this.secrets.delete(token);
    return expiresAtMs > this.clock.now();
  }

  private forgetExpired(): void {
    const now = this.clock.now();
    for (const [value, expiresAtMs] of this.secrets) if (expiresAtMs <= now) this.secrets.delete(value);
  }
}
