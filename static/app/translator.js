/**
 * The streaming half of an active session: captured 16 kHz audio → fixed-size frames → the
 * reconnecting socket; server frames → `onFrame`. One per session; lives until the session ends.
 */
import { Framer } from './framer.js';
import { frameSamplesFor } from './protocol.js';
import { TranslationSocket } from './socket.js';

export class Translator {
  /**
   * @param {{ sessionId: string, multiplier: number,
   *           onFrame: (frame: { kind: string, text: string }) => void,
   *           onSocketState: (state: string, info?: object) => void }} options
   */
  constructor({ sessionId, multiplier, onFrame, onSocketState }) {
    this.framesSent = 0;
    this.isFinishing = false;
    this.onFrame = onFrame;
    this.framer = new Framer(frameSamplesFor(multiplier), (frame) => {
      this.framesSent++;
      this.socket.sendAudio(frame);
    });
    this.socket = new TranslationSocket(sessionId, {
      onFrame: (frame) => {
        if (frame.kind === 'complete') this.isFinishing = false;
        onFrame(frame);
      },
      onState: onSocketState,
    });
    this.socket.open();
  }

  get socketState() {
    return this.socket.state;
  }

  /** Captured audio (16 kHz mono). */
  feed(samples) {
    this.isFinishing = false;
    this.framer.push(samples);
  }

  /** New frame size from the next frame on (the server applies the multiplier per chunk). */
  setMultiplier(multiplier) {
    this.framer.setFrameSamples(frameSamplesFor(multiplier));
  }

  /**
   * End of a capture: send the partial frame (padded) and "EOF"; the server answers
   * PROCESSING_COMPLETE once everything sent so far is translated.
   */
  finish() {
    const hasTail = this.framer.finish();
    if (!hasTail && this.framesSent === 0) return false;
    this.isFinishing = true;
    this.socket.sendText('EOF');
    return true;
  }

  /** Forgets audio not yet sent (after a reset). */
  discardPending() {
    this.framer.clear();
  }

  retryNow() {
    this.socket.retryNow();
  }

  close() {
    this.socket.close();
  }
}
