/**
 * DOM rendering for the page: the status line, the translation panel (incremental, auto-scrolled
 * unless the reader scrolled up), the level meter and small helpers. No application state here.
 */

export const $ = (selector) => {
  const element = document.querySelector(selector);
  if (!element) throw new Error(`page element ${selector} is missing`);
  return element;
};

/** @param {'info'|'busy'|'ok'|'warn'|'error'} tone */
export function renderStatus(text, tone = 'info') {
  const status = $('#status');
  if (status.textContent !== text) status.textContent = text;
  status.dataset.tone = tone;
}

/** Pixels from the bottom under which the panel counts as "following" the newest text. */
const FOLLOW_THRESHOLD_PX = 48;

export class TranslationView {
  constructor(panel, jumpButton) {
    this.panel = panel;
    this.jumpButton = jumpButton;
    this.isFollowing = true;
    this.renderedBlocks = -1;
    this.renderedParts = 0;
    this.current = null;
    panel.addEventListener('scroll', () => {
      this.isFollowing = panel.scrollHeight - panel.scrollTop - panel.clientHeight < FOLLOW_THRESHOLD_PX;
      this.jumpButton.hidden = this.isFollowing;
    });
    jumpButton.addEventListener('click', () => {
      this.isFollowing = true;
      this.scrollToEnd();
      jumpButton.hidden = true;
      panel.focus();
    });
  }

  /** Draws the transcript; appends only new parts when possible (screen readers hear only those). */
  render(transcript, mode = 'appended') {
    const blocks = transcript.blocks;
    if (mode === 'rewritten' || blocks.length !== this.renderedBlocks || transcript.parts.length < this.renderedParts) {
      this.redraw(transcript);
    } else {
      for (const part of transcript.parts.slice(this.renderedParts)) this.appendPart(part);
      this.renderedParts = transcript.parts.length;
    }
    if (this.isFollowing) this.scrollToEnd();
  }

  redraw(transcript) {
    this.panel.replaceChildren();
    if (transcript.isEmpty) {
      const placeholder = document.createElement('p');
      placeholder.className = 'placeholder';
      placeholder.textContent = 'The translation will appear here as you speak or play media.';
      this.panel.append(placeholder);
    }
    for (const parts of transcript.blocks) {
      const block = this.newBlock();
      block.textContent = parts.map((part) => part.text).join('').trim();
    }
    this.current = this.newBlock();
    for (const part of transcript.parts) this.appendPart(part, false);
    this.renderedBlocks = transcript.blocks.length;
    this.renderedParts = transcript.parts.length;
  }

  newBlock() {
    const block = document.createElement('p');
    block.className = 'block';
    this.panel.append(block);
    return block;
  }

  appendPart(part, isFresh = true) {
    const placeholder = this.panel.querySelector('.placeholder');
    if (placeholder) placeholder.remove();
    if (!this.current) this.current = this.newBlock();
    const span = document.createElement('span');
    // The first part of a block carries the server's leading joiner; keep the text as sent.
    span.textContent = this.current.childElementCount === 0 ? part.text.trimStart() : part.text;
    if (isFresh) span.className = 'fresh';
    this.current.append(span);
    if (isFresh) setTimeout(() => span.classList.remove('fresh'), 1500);
  }

  scrollToEnd() {
    this.panel.scrollTop = this.panel.scrollHeight;
  }
}

/** Level meter from the capture peak (0..1), on a rough dB scale so speech moves it visibly. */
export function renderLevel(meter, peak) {
  const db = 20 * Math.log10(Math.max(peak, 1e-4));
  meter.value = Math.max(0, Math.min(1, (db + 60) / 60));
}

/** Offers text as a file download. */
export function downloadText(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
