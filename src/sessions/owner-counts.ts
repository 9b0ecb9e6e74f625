/**
 * Open sessions per owner — the client id a caller chose and the address it came from — for the
 * per-owner caps of the session manager (`maxSessionsPerClient`, `maxSessionsPerAddress`).
 */
import { AppError } from '../errors.ts';

export interface Owners {
  clientId?: string | undefined;
  clientAddress?: string | undefined;
}

export interface OwnerLimits {
  /** Open sessions per client_id (0/absent = no limit). */
  maxSessionsPerClient?: number | undefined;
  /** Open sessions per client address (0/absent = no limit). */
  maxSessionsPerAddress?: number | undefined;
}

const keysOf = (owners: Owners): string[] => [
  ...(owners.clientId !== undefined ? [`client:${owners.clientId}`] : []),
  ...(owners.clientAddress !== undefined ? [`address:${owners.clientAddress}`] : []),
];

export class OwnerCounts<T extends object> {
  private readonly counts = new Map<string, number>();
  private readonly keysOfItem = new WeakMap<T, string[]>();

  constructor(private readonly limits: OwnerLimits) {}

  /** Throws AppError('tooManySessions') when an owner is at its cap. */
  check(owners: Owners): void {
    const clientLimit = this.limits.maxSessionsPerClient ?? 0;
    if (owners.clientId !== undefined && clientLimit > 0 && (this.counts.get(`client:${owners.clientId}`) ?? 0) >= clientLimit) {
      throw new AppError('tooManySessions', `Client ${owners.clientId} already has ${clientLimit} open sessions; delete one (POST /delete_session) before creating another`);
    }
    const addressLimit = this.limits.maxSessionsPerAddress ?? 0;
    if (owners.clientAddress !== undefined && addressLimit > 0 && (this.counts.get(`address:${owners.clientAddress}`) ?? 0) >= addressLimit) {
      throw new AppError('tooManySessions', `This address already has ${addressLimit} open sessions; delete one (POST /delete_session) before creating another`);
    }
  }

  /** Counts `item` for its owners. */
  add(item: T, owners: Owners): void {
    const keys = keysOf(owners);
    for (const key of keys) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.keysOfItem.set(item, keys);
  }

  /** Stops counting `item` (idempotent). */
  remove(item: T): void {
    for (const key of this.keysOfItem.get(item) ?? []) {
      const count = this.counts.get(key) ?? 0;
      if (count <= 1) this.counts.delete(key);
      else this.counts.set(key, count - 1);
    }
    this.keysOfItem.delete(item);
  }
}
