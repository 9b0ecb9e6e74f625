/** How sessions appear in public listings (/health, /debug): ids masked unless configured (W11). */
import { maskSessionId } from '../sessions/session-id.ts';

/** The id as shown publicly; for a user id that is a session id (no client_id), masked too. */
export function publicSessionId(id: string, expose: boolean): string {
  return expose ? id : maskSessionId(id);
}
