/**
 * One load-test session over the OpenAI-Realtime-compatible protocol: session.created (waiting
 * through the queue if the server says so), 200 ms appends of 24 kHz PCM16 paced at `speed` ×
 * real time, then session.close and the wait for session.closed. The same result record as a
 * /wss session, so the report compares the two protocols line for line.
 */
import { openRealtimeTranslation, type RealtimeTranslation } from '../../src/client/realtime-client.ts';

export interface SessionResult {
  id: string | null;
  /** Audio messages sent: /wss frames, or realtime appends. */
  framesSent: number;
  /** Translation messages received: /wss text frames, or realtime transcript deltas. */
  textFrames: number;
  errorFrames: string[];
  failure: string | null;
  drainMs: number | null;
  pingsMs: number[];
  closeCode: number | null;
  /** Still translating its backlog when the drain timeout ended (not an error: the server is behind). */
  isDrainTimedOut: boolean;
}

export interface RealtimeRun {
  baseUrl: string;
  model: string;
  latency: number;
  /** The speech, 24 kHz PCM16, looped. */
  pcm24k: Buffer;
  seconds: number;
  speed: number;
  drainTimeoutMs: number;
}

const APPEND_MS = 200;
const APPEND_BYTES = (24_000 * 2 * APPEND_MS) / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runRealtimeSession(run: RealtimeRun): Promise<SessionResult> {
  const result: SessionResult = { id: null, framesSent: 0, textFrames: 0, errorFrames: [], failure: null, drainMs: null, pingsMs: [], closeCode: null, isDrainTimedOut: false };
  let activeNow: (() => void) | null = null;
  let connection: RealtimeTranslation | undefined;
  try {
    connection = openRealtimeTranslation(run.baseUrl, run.model, {
      onEvent(event) {
        if (event.type === 'session.output_transcript.delta') result.textFrames++;
        else if (event.type === 'error') result.errorFrames.push(JSON.stringify(event.error));
        else if (event.type === 'infinisst.session.active') activeNow?.();
      },
      onClose: (code) => (result.closeCode = code),
    });
    const created = await connection.created;
    const view = created.session as { id: string; infinisst: { state: string } };
    result.id = view.id;
    if (view.infinisst.state === 'unconfigured') throw new Error(`the server did not configure a session for "${run.model}"`);
    connection.update({ infinisst: { latency_multiplier: run.latency, lag_interval_ms: 0 } });
    // A queued session holds only a bounded amount of audio: start sending when it is active.
    if (view.infinisst.state === 'queued') await new Promise<void>((resolve) => (activeNow = resolve));
    const startedAt = performance.now();
    const appends = Math.max(1, Math.round((run.seconds * 1000) / APPEND_MS));
    for (let index = 0; index < appends; index++) {
      const wait = startedAt + (index * APPEND_MS) / run.speed - performance.now();
      if (wait > 0) await sleep(wait);
      if (!connection.isOpen) throw new Error(`socket closed early (${result.closeCode ?? 'no code'})`);
      const offset = (index * APPEND_BYTES) % run.pcm24k.length;
      const piece = Buffer.alloc(APPEND_BYTES);
      run.pcm24k.copy(piece, 0, offset, offset + APPEND_BYTES);
      if (offset + APPEND_BYTES > run.pcm24k.length) run.pcm24k.copy(piece, run.pcm24k.length - offset, 0, offset + APPEND_BYTES - run.pcm24k.length);
      connection.append(piece);
      result.framesSent++;
    }
    const closeAt = performance.now();
    let drainTimer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((done) => (drainTimer = setTimeout(() => done(false), run.drainTimeoutMs)));
    const isClosed = await Promise.race([connection.finish().then(() => true), timedOut]);
    clearTimeout(drainTimer);
    if (isClosed) result.drainMs = performance.now() - closeAt;
    else result.isDrainTimedOut = true;
  } catch (error) {
    result.failure = error instanceof Error ? error.message : String(error);
  } finally {
    connection?.terminate();
  }
  return result;
}
