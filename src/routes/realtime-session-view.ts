/**
 * A realtime connection's session from the session manager's side: creating it, what the queue
 * says about it, and the facts a dialect shapes into its session object.
 */
import type { AppError } from '../errors.ts';
import type { LanguagePairInfo } from '../inference/translation-engine.ts';
import { toAppError } from '../protocol/error-reply.ts';
import { serverEvents, type ServerEvent, type SessionFacts } from '../protocol/realtime-events.ts';
import { outputLanguageOf, type PairChoice } from '../protocol/realtime-model.ts';
import type { Session } from '../sessions/session.ts';
import type { SessionManager } from '../sessions/session-manager.ts';

export interface FactsContext {
  session: Session | null;
  choice: PairChoice;
  served: readonly LanguagePairInfo[];
  sessions: SessionManager;
  /** Seconds since the epoch when the session must end at the latest. */
  expiresAt: number;
}

export function sessionFacts({ session, choice, served, sessions, expiresAt }: FactsContext): SessionFacts {
  const info = session ? served.find((pair) => pair.languagePair === session.languagePair) : undefined;
  return {
    id: session?.id ?? '',
    model: choice.model ?? session?.languagePair ?? '',
    languagePair: session?.languagePair ?? null,
    outputLanguage: session ? outputLanguageOf(session.languagePair) : choice.outputLanguage,
    latencyMultiplier: session?.latencyMultiplier ?? null,
    maxLatencyMultiplier: info?.maxLatencyMultiplier ?? null,
    state: session ? session.state : 'unconfigured',
    queuePosition: session && session.state === 'queued' ? sessions.queuePosition(session) : null,
    isDemo: info?.isDemo ?? false,
    expiresAt,
  };
}

/** A new session for a realtime connection, or why none can be had (capacity, limits, shutdown). */
export function createSession(sessions: SessionManager, request: { languagePair: string; latencyMultiplier: number | undefined; clientAddress: string }): Session | AppError {
  try {
    const session = sessions.create({ agentType: 'InfiniSST', evaluationMode: false, ...request });
    session.touch();
    return session;
  } catch (error) {
    return toAppError(error);
  }
}

/** The `infinisst.session.queued` event of a session waiting for a slot; null when it is not waiting. */
export function queuedEvent(sessions: SessionManager, session: Session): ServerEvent | null {
  if (session.state !== 'queued') return null;
  const waitMs = sessions.estimatedWaitMs(session);
  return serverEvents.queued(sessions.queuePosition(session), waitMs === null ? null : Math.ceil(waitMs / 1000));
}
