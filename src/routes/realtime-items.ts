/**
 * The items of a transcription-dialect session: the translation between two commits is one item
 * (`item_…`), whose deltas carry its id and whose text and audio length the completion reports.
 */
import { randomBytes } from 'node:crypto';

const newItemId = (): string => `item_${randomBytes(12).toString('hex')}`;

export interface CompletedItem {
  itemId: string;
  previousItemId: string | null;
  transcript: string;
  audioSeconds: number;
}

export class RealtimeItems {
  private id = newItemId();
  private previousId: string | null = null;
  private textStart = 0;
  private audioStartMs = 0;

  /** The item deltas belong to now. */
  get currentId(): string {
    return this.id;
  }

  /** Ends the current item at `text` (the whole translation so far) and `receivedMs`; a new one begins. */
  complete(text: string, receivedMs: number): CompletedItem {
    const done = { itemId: this.id, previousItemId: this.previousId, transcript: text.slice(this.textStart), audioSeconds: Math.max(0, receivedMs - this.audioStartMs) / 1000 };
    this.previousId = this.id;
    this.id = newItemId();
    this.textStart = text.length;
    this.audioStartMs = receivedMs;
    return done;
  }

  /** After a clear or reset the translation starts from nothing: the current item starts again. */
  restart(): void {
    this.id = newItemId();
    this.textStart = 0;
    this.audioStartMs = 0;
  }
}
