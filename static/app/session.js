/**
 * The session's HTTP life: create (/init), wait in the queue (/queue_status every 2 s), keep
 * alive (/ping every 5 s), change latency, reset, end (/delete_session, or a beacon when the page
 * closes). Knows nothing about audio or the DOM; reports every change through `onChange`.
 */
import { ApiError } from './api.js';

const PING_INTERVAL_MS = 5000;
const QUEUE_POLL_MS = 2000;

/** A per-page-load client id like the original's: "client_" + random base-36. */
export function createClientId() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return `client_${Array.from(bytes, (byte) => (byte % 36).toString(36)).join('')}`;
}

export class SessionController {
  /** @param {{ api: typeof import('./api.js').api, clientId: string, onChange: (session: SessionController) => void }} options */
  constructor({ api, clientId, onChange }) {
    this.api = api;
    this.clientId = clientId;
    this.onChange = onChange;
    /** 'idle' | 'starting' | 'queued' | 'initializing' | 'active' | 'ending' | 'lost' */
    this.state = 'idle';
    this.sessionId = null;
    this.languagePair = null;
    this.multiplier = 2;
    this.queuePosition = 0;
    /** The server's estimate of the wait for a slot, in seconds (null: none yet). */
    this.queueWaitSeconds = null;
    /** Last problem worth telling the person (null when all is well). */
    this.problem = null;
    this.pingTimer = null;
    this.queueTimer = null;
    this.generation = 0;
  }

  get hasSession() {
    return this.sessionId !== null && this.state !== 'lost';
  }

  /** Creates a session. Throws ApiError (message readable) if the server refuses. */
  async start(languagePair, multiplier) {
    if (this.hasSession) await this.end();
    const generation = ++this.generation;
    this.languagePair = languagePair;
    this.multiplier = multiplier;
    this.problem = null;
    this.set('starting');
    let reply;
    try {
      reply = await this.api.init({ languagePair, latencyMultiplier: multiplier, clientId: this.clientId });
    } catch (error) {
      if (generation === this.generation) this.set('idle');
      throw error;
    }
    if (generation !== this.generation) return;
    if (typeof reply?.session_id !== 'string') {
      this.set('idle');
      throw new ApiError('The server did not create a session (no session id in its reply).');
    }
    this.sessionId = reply.session_id;
    if (Number.isInteger(reply.latency_multiplier)) this.multiplier = reply.latency_multiplier;
    this.startPinging();
    if (reply.queued) {
      this.queuePosition = reply.queue_position ?? 0;
      this.queueWaitSeconds = reply.estimated_wait_seconds ?? null;
      this.set('queued');
      this.pollQueue();
    } else if (reply.initializing) {
      this.set('initializing');
      this.pollQueue();
    } else {
      this.set('active');
    }
  }

  /** Ends the session on the server (best effort) and stops the timers. */
  async end() {
    const id = this.sessionId;
    this.generation++;
    this.stopTimers();
    this.sessionId = null;
    this.queuePosition = 0;
    if (id && this.state !== 'lost') {
      this.set('ending');
      try {
        await this.api.deleteSession(id);
      } catch {
        // Already gone or unreachable: the server sweeps sessions without pings anyway.
      }
    }
    this.problem = null;
    this.set('idle');
  }

  /** Page is closing: delete without waiting (sendBeacon). */
  endOnUnload() {
    if (this.sessionId && this.state !== 'lost') this.api.deleteOnUnload(this.sessionId);
    this.stopTimers();
  }

  /** Changes the latency multiplier on the server. Throws ApiError. */
  async setMultiplier(multiplier) {
    if (!this.hasSession) {
      this.multiplier = multiplier;
      return;
    }
    try {
      await this.api.updateLatency(this.sessionId, multiplier);
    } catch (error) {
      this.handleFailure(error);
      throw error;
    }
    this.multiplier = multiplier;
    this.onChange(this);
  }

  /** Clears the server's translation and model state. Throws ApiError. */
  async reset() {
    if (!this.hasSession) return;
    try {
      await this.api.reset(this.sessionId);
    } catch (error) {
      this.handleFailure(error);
      throw error;
    }
  }

  /** The socket reported that the session no longer exists. */
  markLost(message) {
    if (!this.sessionId) return;
    this.stopTimers();
    this.problem = message;
    this.set('lost');
  }

  startPinging() {
    clearInterval(this.pingTimer);
    this.ping();
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
  }

  /** Pings now (also called when the tab becomes visible again). */
  async ping() {
    const id = this.sessionId;
    const generation = this.generation;
    if (!id || this.state === 'lost') return;
    try {
      await this.api.ping(id);
      if (generation === this.generation && this.problem) {
        this.problem = null;
        this.onChange(this);
      }
    } catch (error) {
      if (generation === this.generation) this.handleFailure(error, true);
    }
  }

  pollQueue() {
    clearTimeout(this.queueTimer);
    const generation = this.generation;
    this.queueTimer = setTimeout(async () => {
      if (generation !== this.generation || (this.state !== 'queued' && this.state !== 'initializing')) return;
      try {
        const status = await this.api.queueStatus(this.sessionId);
        if (generation !== this.generation) return;
        this.problem = null;
        if (status.status === 'active') {
          this.queuePosition = 0;
          this.set('active');
          return;
        }
        if (status.status === 'queued') {
          this.queuePosition = status.queue_position ?? this.queuePosition;
          this.queueWaitSeconds = status.estimated_wait_seconds ?? null;
          this.set('queued');
        } else {
          this.set('initializing');
        }
      } catch (error) {
        if (generation !== this.generation) return;
        this.handleFailure(error, true);
        if (this.state === 'lost') return;
      }
      this.pollQueue();
    }, QUEUE_POLL_MS);
  }

  /** Session gone → 'lost'. Background failures (ping, queue) are kept as `problem`; others are the caller's to show. */
  handleFailure(error, isBackground = false) {
    if (error instanceof ApiError && error.isSessionGone) {
      this.markLost('The server no longer has this session (it expired or the server restarted). Press Start to begin a new one; your text is kept.');
      return;
    }
    if (!isBackground) return;
    this.problem = error instanceof Error ? error.message : String(error);
    this.onChange(this);
  }

  stopTimers() {
    clearInterval(this.pingTimer);
    clearTimeout(this.queueTimer);
    this.pingTimer = null;
    this.queueTimer = null;
  }

  set(state) {
    this.state = state;
    this.onChange(this);
  }
}
