/** The session object of `session.created` / `session.updated`: the standard fields and ours. */
import type { LanguagePairInfo } from '../inference/translation-engine.ts';
import { REALTIME_INPUT_RATE_HZ, type RealtimeSessionView } from '../protocol/realtime-events.ts';
import { outputLanguageOf, type PairChoice } from '../protocol/realtime-model.ts';
import type { Session } from '../sessions/session.ts';
import type { SessionManager } from '../sessions/session-manager.ts';

export interface ViewContext {
  session: Session | null;
  choice: PairChoice;
  served: readonly LanguagePairInfo[];
  sessions: SessionManager;
  /** Seconds since the epoch when the session must end at the latest. */
  expiresAt: number;
}

export function realtimeSessionView({ session, choice, served, sessions, expiresAt }: ViewContext): RealtimeSessionView {
  const info = session ? served.find((pair) => pair.languagePair === session.languagePair) : undefined;
  const language = session ? outputLanguageOf(session.languagePair) : choice.outputLanguage;
  return {
    id: session?.id ?? '',
    model: choice.model ?? session?.languagePair ?? '',
    type: 'translation',
    expires_at: expiresAt,
    audio: { input: { transcription: null, noise_reduction: null }, output: language !== undefined ? { language } : {} },
    infinisst: {
      language_pair: session?.languagePair ?? null,
      latency_multiplier: session?.latencyMultiplier ?? null,
      max_latency_multiplier: info?.maxLatencyMultiplier ?? null,
      state: session ? session.state : 'unconfigured',
      queue_position: session && session.state === 'queued' ? sessions.queuePosition(session) : null,
      input_sample_rate: REALTIME_INPUT_RATE_HZ,
      demo: info?.isDemo ?? false,
    },
  };
}
