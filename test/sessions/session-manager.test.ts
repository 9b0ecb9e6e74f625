import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAppError } from '../../src/errors.ts';
import { SessionManager } from '../../src/sessions/session-manager.ts';
import { maskSessionId } from '../../src/sessions/session-id.ts';
import type { AppError } from '../../src/errors.ts';
import type { SessionSink, CloseReason } from '../../src/sessions/session.ts';
import { FakeEngine } from '../app/fake-engine.ts';
import { ManualClock } from '../app/helpers.ts';

function manager(options: { maxActive?: number; maxQueued?: number; engine?: FakeEngine; clock?: ManualClock } = {}) {
  const engine = options.engine ?? new FakeEngine({ autoProcess: false });
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

test('ids keep the original shape with a 12-character random suffix; masking hides the suffix', () => {
  const { sessions, clock } = manager();
  const session = sessions.create({ ...request, clientId: 'client_k3j9' });
  assert.match(session.id, new RegExp(`^client_k3j9_English -> Chinese_${clock.now()}_[0-9a-z]{12}$`));
  assert.equal(maskSessionId(session.id), `${session.id.slice(0, -12)}************`);
  assert.equal(session.userId, 'client_k3j9');
  const anonymous = sessions.create(request);
  assert.equal(anonymous.userId, anonymous.id, 'user id = session id without client_id, as the original');
});

test('capacity: FIFO queue with 1-based positions, promotion on delete and on sweep, 503 when the queue is full', () => {
  const { sessions, clock } = manager({ maxActive: 1, maxQueued: 2 });
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

test('audio sent while queued is held, then handed to the stream on promotion', () => {
  const { sessions, engine } = manager({ maxActive: 1 });
  const a = sessions.create(request);
  const b = sessions.create(request);
  const sink = new RecordingSink();
  b.attach(sink);
  assert.equal(b.pushAudio(new Float32Array(30_720)), false, 'stop reading while queued');
  sessions.delete(a.id);
  assert.deepEqual(sink.events, ['activated', 'resume']);
  assert.equal(engine.lastStream.receivedAudioMs, 1920);
  assert.throws(() => b.pushAudio(new Float32Array(16 * 70_000)), (error) => isAppError(error) && error.code === 'overloaded');
});

test('closing releases the engine stream and tells the sink; unsupported pairs are refused', () => {
  const { sessions, engine } = manager();
  const session = sessions.create(request);
  const sink = new RecordingSink();
  session.attach(sink);
  sessions.delete(session.id);
  assert.equal(engine.lastStream.isClosed, true);
  assert.deepEqual(sink.events, ['closed:deleted']);
  assert.equal(sessions.get(session.id), undefined);
  assert.throws(() => sessions.create({ ...request, languagePair: 'English -> French' }), (error) => isAppError(error) && error.code === 'unsupportedLanguagePair');
});

test('text produced while the sink cannot send is delivered to the next sink', () => {
  const { sessions, engine } = manager();
  const session = sessions.create(request);
  const closing = new RecordingSink();
  session.attach(closing);
  session.pushAudio(new Float32Array(30_720));
  closing.isOpen = false;
  engine.lastStream.processNext();
  const next = new RecordingSink();
  session.attach(next);
  session.deliverUndelivered();
  assert.deepEqual(closing.events, ['replaced']);
  assert.deepEqual(next.events, ['text:w0']);
  session.deliverUndelivered();
  assert.deepEqual(next.events, ['text:w0'], 'delivered once');
});

test('reset clears text and the engine stream; latency changes are validated against the model maximum', () => {
  const { sessions, engine } = manager();
  const session = sessions.create(request);
  session.pushAudio(new Float32Array(30_720));
  engine.lastStream.processNext();
  assert.equal(session.fullText, 'w0');
  session.reset();
  assert.equal(session.fullText, '');
  assert.equal(engine.lastStream.resets, 1);
  session.setLatencyMultiplier(4);
  assert.deepEqual(engine.lastStream.multiplierChanges, [4]);
  assert.throws(() => session.setLatencyMultiplier(5), (error) => isAppError(error) && error.code === 'validationFailed');
});

test('beginShutdown stops admitting and tells every attached sink', () => {
  const { sessions } = manager();
  const session = sessions.create(request);
  const sink = new RecordingSink();
  session.attach(sink);
  sessions.beginShutdown();
  assert.throws(() => sessions.create(request), (error) => isAppError(error) && error.code === 'shuttingDown');
  sessions.closeAll();
  assert.deepEqual(sink.events, ['shutdown', 'closed:shutdown']);
  assert.deepEqual(sessions.history().map((event) => event.event), ['created', 'activated', 'shutdown']);
});

test('evaluation switched on mid-stream attributes only text produced afterwards', () => {
  const { sessions, engine } = manager();
  const session = sessions.create(request);
  session.pushAudio(new Float32Array(30_720));
  engine.lastStream.processNext();
  session.enableEvaluation();
  session.pushAudio(new Float32Array(30_720));
  engine.lastStream.processNext();
  const stats = session.delays?.statistics(false);
  assert.equal(stats?.total_characters, 2, '"w1" only');
  assert.equal(stats?.segments, 1);
});
