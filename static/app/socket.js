/**
 * The /wss/{session_id} connection with automatic reconnection. The server keeps the session
 * (and its translation) when a socket drops, so the page simply reconnects with backoff and
 * sends the audio it captured meanwhile (bounded). Close codes that mean "the session is gone"
 * stop the retries.
 */
import { classifyFrame, describeClose } from './protocol.js';

const RECONNECT_DELAYS_MS = [300, 1000, 2000, 4000, 8000];
const MAX_DELAY_MS = 10000;

const isLittleEndian = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

/** The frame's bytes as little-endian float32 (the wire format), whatever the platform. */
export function toLittleEndianBytes(samples) {
  if (isLittleEndian) return samples.buffer.byteLength === samples.byteLength ? samples.buffer : samples.slice().buffer;
  const bytes = new ArrayBuffer(samples.length * 4);
  const view = new DataView(bytes);
  samples.forEach((value, index) => view.setFloat32(index * 4, value, true));
  return bytes;
}

export class TranslationSocket {
  /**
   * @param {string} sessionId
   * @param {{ onFrame: (frame: { kind: string, text: string }) => void,
   *           onState: (state: string, info?: { attempt?: number, message?: string, delayMs?: number }) => void }} handlers
   * @param {{ maxBacklogSamples?: number, url?: string }} [options]
   */
  constructor(sessionId, handlers, options = {}) {
    this.sessionId = sessionId;
    this.handlers = handlers;
    this.maxBacklogSamples = options.maxBacklogSamples ?? 16000 * 120;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.url = options.url ?? `${scheme}://${location.host}/wss/${encodeURIComponent(sessionId)}`;
    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.timer = null;
    /** @type {(Float32Array|string)[]} */
    this.backlog = [];
    this.backlogSamples = 0;
    this.droppedSamples = 0;
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Connects (idempotent while connecting/open). */
  open() {
    if (this.ws || this.state === 'open' || this.state === 'failed' || this.state === 'closed') return;
    clearTimeout(this.timer);
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting', { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      this.fail(`The translation connection could not be opened (${error.message}).`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setState('open');
      this.sendBacklog();
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws || typeof event.data !== 'string') return;
      const frame = classifyFrame(event.data);
      if (frame.kind === 'ready' || frame.kind === 'translation') this.attempt = 0;
      this.handlers.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.state === 'closed') return;
      const meaning = describeClose(event.code, event.reason);
      if (meaning.isFatal) {
        this.fail(meaning.message, event.code);
        return;
      }
      this.scheduleReconnect(meaning.message);
    };
  }

  /** Sends one audio frame now, or keeps it for the next connection. */
  sendAudio(samples) {
    if (this.state === 'closed' || this.state === 'failed') return;
    if (this.isOpen && this.backlog.length === 0) {
      this.ws.send(toLittleEndianBytes(samples));
      return;
    }
    this.backlog.push(samples);
    this.backlogSamples += samples.length;
    while (this.backlogSamples > this.maxBacklogSamples) {
      const dropped = this.backlog.shift();
      if (typeof dropped === 'string') continue;
      this.backlogSamples -= dropped.length;
      this.droppedSamples += dropped.length;
    }
  }

  /** Sends a control text (e.g. "EOF"), queued like audio so that order is kept. */
  sendText(text) {
    if (this.state === 'closed' || this.state === 'failed') return;
    if (this.isOpen && this.backlog.length === 0) this.ws.send(text);
    else this.backlog.push(text);
  }

  sendBacklog() {
    while (this.backlog.length > 0 && this.isOpen) {
      const item = this.backlog.shift();
      if (typeof item === 'string') this.ws.send(item);
      else {
        this.backlogSamples -= item.length;
        this.ws.send(toLittleEndianBytes(item));
      }
    }
  }

  scheduleReconnect(message) {
    const base = RECONNECT_DELAYS_MS[this.attempt] ?? MAX_DELAY_MS;
    const delayMs = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt++;
    this.setState('reconnecting', { attempt: this.attempt, message, delayMs });
    this.timer = setTimeout(() => {
      this.state = 'waiting';
      this.open();
    }, delayMs);
  }

  /** Reconnects now instead of waiting for the backoff timer (e.g. the network came back). */
  retryNow() {
    if (this.state !== 'reconnecting' || this.ws) return;
    clearTimeout(this.timer);
    this.state = 'waiting';
    this.open();
  }

  fail(message, code) {
    clearTimeout(this.timer);
    this.backlog = [];
    this.backlogSamples = 0;
    this.setState('failed', { message, code });
  }

  /** Closes for good (normal closure); frames not yet sent are dropped. */
  close() {
    clearTimeout(this.timer);
    this.setState('closed');
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'client finished');
  }

  setState(state, info) {
    this.state = state;
    this.handlers.onState(state, info);
  }
}
