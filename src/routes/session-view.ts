/**
 * How sessions appear in shared listings (/health, /debug). A session id is a bearer credential and
 * a client id finds sessions, so only the operator (who presents the admin token) may see them in
 * full, and only with `sessions.exposeSessionIds`. Everyone else sees the id with its secret part
 * masked and its owner part (the client id it starts with) replaced by "*", and no client ids.
 */
import { maskSessionId } from '../sessions/session-id.ts';

/** `…_<pair>_<ms>_************`: the masked id from its language pair on (or from its time stamp). */
function anonymous(id: string, languagePair: string): string {
  const masked = maskSessionId(id);
  if (masked === id) return 'hidden';
  const pairAt = masked.indexOf(`_${languagePair}_`);
  if (pairAt >= 0) return `*${masked.slice(pairAt)}`;
  const stampAt = masked.search(/_\d{10,16}_\*{12}/);
  return stampAt >= 0 ? `*${masked.slice(stampAt)}` : 'hidden';
}

/** A session id as shown to this caller. */
export function publicSessionId(id: string, languagePair: string, isOperator: boolean, expose: boolean): string {
  return isOperator && expose ? id : anonymous(id, languagePair);
}

/** A session's user id (its client id, or its own id when none was given) as shown to this caller. */
export function publicUserId(userId: string, languagePair: string, isOperator: boolean, expose: boolean): string {
  if (isOperator) return expose ? userId : maskSessionId(userId);
  return anonymous(userId, languagePair);
}
