import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAppError } from '../../src/errors.ts';
import { SessionManager } from '../../src/sessions/session-manager.ts';
import { maskSessionId } from '../../src/sessions/session-id.ts';
import type { AppError } from '../../src/errors.ts';
import type { Session } from '../../src/sessions/session.ts';
import type { CloseReason, SessionSink } from '../../src/sessions/session-sink.ts';
import type { SessionLogger } from '../../src/sessions/session-logger.ts';
import type { TestContext } from 'node:test';
import { ManualClock } from '../app/helpers.ts';
import { RecordingEngine } from '../app/recording-engine.ts';
import { sharedEngine } from '../app/shared-engine.ts';
import { referenceRun, testAudio } from '../support/engine-fixtures.ts';
import { until } from '../app/wait.ts';

/**
 * A SessionManager on the file's shared real engine (seen through a stream recorder). Every
 * session is closed after the test, which must release every engine stream it opened.
 */
async function manager(t: TestContext, options: { maxActive?: number; maxQueued?: number; clock?: ManualClock; logger?: SessionLogger } = {}) {
  const engine = new RecordingEngine(await sharedEngine());
  const clock = options.clock ?? new ManualClock();
  const sessions = new SessionManager({
    engine,
    clock,
    maxActiveSessions: options.maxActive ?? 2,
    maxQueuedSessions: options.maxQueued ?? 2,
    idleTimeoutMs: 300_000,
    historySize: 10,
    defaultLatencyMultiplier: 2,
    maxSegmentsPerSession: 100,
    queuedAudioLimitMs: 10_000,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  t.after(() => {
    sessions.closeAll();
    assert.ok(engine.streams.every((recorded) => recorded.stream.isClosed), 'every engine stream was released');
  });
  return { sessions, engine, clock };
}

class RecordingSink implements SessionSink {
  readonly events: string[] = [];
  isOpen = true;
  sendTranslation(text: string): boolean {
    if (!this.isOpen) return false;
    this.events.push(`text:${text}`);
    return true;
  }
  sendError(error: AppError): void {
    this.events.push(`error:${error.code}`);
  }
  resumeInput(): void {
    this.events.push('resume');
  }
  activated(): void {
    this.events.push('activated');
  }
  sessionClosed(reason: CloseReason): void {
    this.events.push(`closed:${reason}`);
  }
  replaced(): void {
    this.events.push('replaced');
  }
  shuttingDown(): void {
    this.events.push('shutdown');
  }
}

const request = { agentType: 'InfiniSST', languagePair: 'English -> Chinese', evaluationMode: false };

test('ids keep the original shape with a 12-character random suffix; masking hides the suffix', async (t) => {
  const { sessions, clock } = await manager(t);
  const session = sessions.create({ ...request, clientId: 'client_k3j9' });
  assert.match(session.id, new RegExp(`^client_k3j9_English -> Chinese_${clock.now()}_[0-9a-z]{12}$`));
  assert.equal(maskSessionId(session.id), `${session.id.slice(0, -12)}************`);
  assert.equal(session.userId, 'client_k3j9');
  const anonymous = sessions.create(request);
  assert.equal(anonymous.userId, anonymous.id, 'user id = session id without client_id, as the original');
});

test('capacity: FIFO queue with 1-based positions, promotion on delete and on sweep, 503 when the queue is full', async (t) => {
  const { sessions, clock } = await manager(t, { maxActive: 1, maxQueued: 2 });
  const a = sessions.create(request);
  const b = sessions.create(request);
  const c = sessions.create(request);
  assert.deepEqual([a.state, b.state, c.state], ['active', 'queued', 'queued']);
  assert.deepEqual([sessions.queuePosition(b), sessions.queuePosition(c)], [1, 2]);
  assert.throws(() => sessions.create(request), (error) => isAppError(error) && error.code === 'capacityReached');
  sessions.delete(a.id);
  assert.equal(b.state, 'active');
  assert.equal(sessions.queuePosition(c), 1);
  // b goes idle; c keeps pinging: the sweep removes b and promotes c.
  clock.advance(200_000);
  sessions.ping(c.id);
  clock.advance(150_000);
  assert.deepEqual(sessions.sweepIdle(), [b.id]);
  assert.equal(c.state, 'active');
  assert.deepEqual(sessions.counts(), { active: 1, queued: 0, total: 1 });
});

test('capacity is a promise: a deleted session\'s slot is given to the next only once its chunk in flight has stopped', async (t) => {
  const { sessions, engine } = await manager(t, { maxActive: 1, maxQueued: 1 });
  const a = sessions.create(request);
  const b = sessions.create(request);
  assert.deepEqual([a.state, b.state], ['active', 'queued']);
  a.pushAudio(testAudio(15_360 * 2, 5));
  const aStream = engine.lastStream.stream;
  assert.ok(aStream.whenIdle?.(), 'precondition: a chunk of the first session is in flight');
  sessions.delete(a.id);
  assert.equal(b.state, 'queued', 'not promoted while the engine still runs the deleted session\'s chunk');
  assert.throws(() => sessions.create(request), (error) => isAppError(error) && error.code === 'capacityReached', 'the slot is not free yet');
  let busyWhenPromoted: boolean | undefined;
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (b.state === 'active') {
        busyWhenPromoted = aStream.whenIdle?.() !== null;
        resolve();
      } else setImmediate(check);
    };
    check();
  });
  assert.equal(busyWhenPromoted, false, 'promoted once the chunk had stopped');
  assert.deepEqual(sessions.counts(), { active: 1, queued: 0, total: 1 });
});

test('capacity under churn: interleaved inits and deletes of sessions with chunks in flight never run more than maxActiveSessions', async (t) => {
  const maxActive = 3;
  const { sessions, engine } = await manager(t, { maxActive, maxQueued: 50 });
  // Engine streams holding a slot: open, or closed with a chunk still running.
  const running = () => engine.streams.filter((recorded) => !recorded.stream.isClosed || recorded.stream.whenIdle?.() != null).length;
  let most = 0;
  let isWatching = true;
  const watch = (): void => {
    most = Math.max(most, running());
    if (isWatching) setImmediate(watch);
  };
  watch();
  let seed = 7;
  const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const live: Session[] = [];
  for (let step = 0; step < 60; step++) {
    if (live.length === 0 || next(3) > 0) {
      const session = sessions.create(request);
      session.pushAudio(testAudio(15_360 * 2, step));
      live.push(session);
    } else {
      const [victim] = live.splice(next(live.length), 1);
      if (victim) sessions.delete(victim.id);
    }
    most = Math.max(most, running());
    if (step % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  for (const session of live.splice(0)) sessions.delete(session.id);
  await until(() => running() === 0, 'every stream released');
  isWatching = false;
  assert.ok(most > 0, 'precondition: sessions ran');
  assert.ok(most <= maxActive, `at most ${maxActive} sessions ran at once, saw ${most}`);
});

test('a session that ends logs one summary line: reason, duration, audio, chunks, errors, text length', async (t) => {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const record = (fields: unknown, message?: string) => void lines.push({ fields: fields as Record<string, unknown>, message: message ?? '' });
  const logger = { debug: () => {}, info: record, warn: record, error: record } as unknown as SessionLogger;
  const clock = new ManualClock();
  const { sessions, engine } = await manager(t, { clock, logger });
  const session = sessions.create(request);
  session.pushAudio(testAudio(15_360 * 2 * 2, 3));
  await engine.lastStream.settled(2);
  clock.advance(65_000);
  const textChars = session.fullText.length;
  sessions.delete(session.id);
  const ended = lines.filter((line) => line.message === 'session ended');
  assert.equal(ended.length, 1);
  assert.deepEqual(ended[0]?.fields, {
    sessionId: session.id,
    languagePair: 'English -> Chinese',
    reason: 'deleted',
    durationS: 65,
    activeS: 65,
    audioS: 3.84,
    chunks: 2,
    chunkErrors: 0,
    textChars,
  });
});

test('audio sent while queued is held, then handed to the stream on promotion', async (t) => {
  const { sessions, engine } = await manager(t, { maxActive: 1 });
  const audio = testAudio(30_720, 9);
  const [expected] = await referenceRun(engine.real, { languagePair: request.languagePair, steps: [audio] });
  const a = sessions.create(request);
  const b = sessions.create(request);
  const sink = new RecordingSink();
  b.attach(sink);
  assert.equal(b.pushAudio(audio), false, 'stop reading while queued');
  assert.equal(engine.streams.length, 1, 'no engine stream while queued');
  sessions.delete(a.id);
  assert.deepEqual(sink.events, ['activated', 'resume']);
  const recorded = engine.lastStream;
  assert.equal(recorded.stream.receivedAudioMs, 1920);
  await recorded.settled(1);
  assert.equal(b.fullText, expected?.fullText, 'the held audio was translated as it was sent');
  // Past the stream's hard limit of untranslated audio (60 s by default) a frame is refused whole.
  assert.throws(() => b.pushAudio(new Float32Array(16 * 70_000)), (error) => isAppError(error) && error.code === 'overloaded');
  assert.equal(recorded.stream.receivedAudioMs, 1920);
});

test('closing releases the engine stream and tells the sink; unsupported pairs are refused', async (t) => {
  const { sessions, engine } = await manager(t);
  const session = sessions.create(request);
  const sink = new RecordingSink();
  session.attach(sink);
  const openBefore = engine.stats().openStreams;
  sessions.delete(session.id);
  assert.equal(engine.lastStream.stream.isClosed, true);
  assert.equal(engine.stats().openStreams, openBefore - 1, 'the engine counts the stream as released');
  assert.deepEqual(sink.events, ['closed:deleted']);
  assert.equal(sessions.get(session.id), undefined);
  assert.throws(() => sessions.create({ ...request, languagePair: 'English -> French' }), (error) => isAppError(error) && error.code === 'unsupportedLanguagePair');
});

test('text produced while the sink cannot send is delivered to the next sink', async (t) => {
  const { sessions, engine } = await manager(t);
  const session = sessions.create(request);
  const closing = new RecordingSink();
  session.attach(closing);
  session.pushAudio(testAudio(30_720, 10));
  closing.isOpen = false;
  await engine.lastStream.settled(1);
  const text = engine.lastStream.stream.fullText;
  assert.notEqual(text, '', 'precondition: the chunk adds text');
  const next = new RecordingSink();
  session.attach(next);
  session.deliverUndelivered();
  assert.deepEqual(closing.events, ['replaced']);
  assert.deepEqual(next.events, [`text:${text}`]);
  session.deliverUndelivered();
  assert.deepEqual(next.events, [`text:${text}`], 'delivered once');
});

test('reset clears text and the engine stream; latency changes are validated against the model maximum', async (t) => {
  const { sessions, engine } = await manager(t);
  const session = sessions.create(request);
  session.pushAudio(testAudio(30_720 + 1_000, 11));
  const { stream } = engine.lastStream;
  await engine.lastStream.settled(1);
  assert.notEqual(session.fullText, '', 'precondition: the chunk adds text');
  assert.equal(session.fullText, stream.fullText);
  session.reset();
  assert.equal(session.fullText, '');
  assert.equal(stream.fullText, '');
  assert.equal(stream.receivedAudioMs, 0, 'the buffered tail is dropped too');
  session.setLatencyMultiplier(4);
  assert.equal(stream.latencyMultiplier, 4);
  assert.equal(session.latencyMultiplier, 4);
  assert.throws(() => session.setLatencyMultiplier(5), (error) => isAppError(error) && error.code === 'validationFailed');
  assert.equal(stream.latencyMultiplier, 4);
});

test('beginShutdown stops admitting and tells every attached sink', async (t) => {
  const { sessions } = await manager(t);
  const session = sessions.create(request);
  const sink = new RecordingSink();
  session.attach(sink);
  sessions.beginShutdown();
  assert.throws(() => sessions.create(request), (error) => isAppError(error) && error.code === 'shuttingDown');
  sessions.closeAll();
  assert.deepEqual(sink.events, ['shutdown', 'closed:shutdown']);
  assert.deepEqual(sessions.history().map((event) => event.event), ['created', 'activated', 'shutdown']);
});

test('evaluation switched on mid-stream attributes only text produced afterwards', async (t) => {
  const { sessions, engine } = await manager(t);
  const session = sessions.create(request);
  const recorded = engine.lastStream;
  session.pushAudio(testAudio(30_720, 12));
  await recorded.settled(1);
  session.enableEvaluation();
  session.pushAudio(testAudio(30_720, 13));
  await recorded.settled(2);
  const later = recorded.chunks[1]?.newText ?? '';
  assert.ok(recorded.chunks[0]?.newText && later, 'precondition: both chunks add text');
  const stats = session.delays?.statistics(false);
  assert.equal(stats?.total_characters, Array.from(later.replace(/\s/g, '')).length, 'the second chunk\'s characters only');
  assert.equal(stats?.segments, 1);
});
