/**
 * The translation as it grew: the server resends the FULL text of a session with every update,
 * so each update is diffed against the previous one to find the part that arrived, stamped with
 * the audio position at that moment (for subtitles). Text of earlier sessions stays as blocks.
 */
export class Transcript {
  constructor() {
    /** @type {{ text: string, atSec: number }[][]} parts of earlier sessions */
    this.blocks = [];
    /** @type {{ text: string, atSec: number }[]} */
    this.parts = [];
    this.currentText = '';
  }

  /**
   * Applies a full-text update. Returns 'unchanged', 'appended' (only new parts were added) or
   * 'rewritten' (earlier text changed, e.g. a server that revises; the display must be redrawn).
   */
  applyFull(fullText, atSec) {
    if (fullText === this.currentText) return 'unchanged';
    let common = 0;
    const limit = Math.min(fullText.length, this.currentText.length);
    while (common < limit && fullText.charCodeAt(common) === this.currentText.charCodeAt(common)) common++;
    const isAppend = common === this.currentText.length;
    if (!isAppend) this.truncateTo(common);
    const added = fullText.slice(common);
    if (added !== '') this.parts.push({ text: added, atSec });
    this.currentText = fullText;
    return isAppend ? 'appended' : 'rewritten';
  }

  /** Keeps the first `length` characters of the current session's text. */
  truncateTo(length) {
    const kept = [];
    let used = 0;
    for (const part of this.parts) {
      if (used >= length) break;
      const text = part.text.slice(0, length - used);
      kept.push({ text, atSec: part.atSec });
      used += text.length;
    }
    this.parts = kept;
  }

  /** Starts a new block: later updates come from a new session whose text starts empty. */
  startBlock() {
    if (this.parts.length > 0) this.blocks.push(this.parts);
    this.parts = [];
    this.currentText = '';
  }

  clear() {
    this.blocks = [];
    this.parts = [];
    this.currentText = '';
  }

  get isEmpty() {
    return this.blocks.length === 0 && this.parts.length === 0;
  }

  /** Every part in order (earlier sessions first). */
  allParts() {
    return [...this.blocks.flat(), ...this.parts];
  }

  /** The whole text, sessions separated by a blank line. */
  get text() {
    const blocks = [...this.blocks, this.parts].filter((parts) => parts.length > 0);
    return blocks.map((parts) => parts.map((part) => part.text).join('').trim()).join('\n\n');
  }
}
