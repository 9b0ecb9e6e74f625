/**
 * The media player for local files, YouTube downloads and the test video: one <video>/<audio>
 * element at a time, from a Blob (object URL, revoked when replaced). Playback events are
 * forwarded so that the page translates exactly what plays.
 */
export class MediaPlayer {
  /**
   * @param {HTMLElement} container
   * @param {{ onLoaded: (element: HTMLMediaElement) => void, onPlay: () => void, onPause: () => void,
   *           onEnded: () => void, onError: (message: string) => void }} handlers
   */
  constructor(container, handlers) {
    this.container = container;
    this.handlers = handlers;
    this.element = null;
    this.url = null;
  }

  /** Shows `blob` in a player; video for video types, audio otherwise. */
  load(blob, title) {
    this.remove();
    const isVideo = (blob.type || '').startsWith('video/') || /\.(mp4|webm|mkv|mov|ogv)$/i.test(title);
    const element = document.createElement(isVideo ? 'video' : 'audio');
    element.controls = true;
    element.preload = 'auto';
    element.playsInline = true;
    element.setAttribute('aria-label', `Media player: ${title}`);
    element.addEventListener('play', () => this.handlers.onPlay());
    element.addEventListener('pause', () => {
      // "ended" also fires "pause" first in some browsers; let "ended" handle that case.
      if (!element.ended) this.handlers.onPause();
    });
    element.addEventListener('ended', () => this.handlers.onEnded());
    element.addEventListener('error', () => this.handlers.onError(describeMediaError(element.error, title)));
    this.url = URL.createObjectURL(blob);
    element.src = this.url;
    const caption = document.createElement('p');
    caption.className = 'player-title';
    caption.textContent = title;
    this.container.replaceChildren(element, caption);
    this.container.hidden = false;
    this.element = element;
    this.handlers.onLoaded(element);
    return element;
  }

  get isPlaying() {
    return !!this.element && !this.element.paused && !this.element.ended;
  }

  pause() {
    if (this.isPlaying) this.element.pause();
  }

  remove() {
    if (this.element) {
      this.element.pause();
      this.element.removeAttribute('src');
      this.element.load();
    }
    if (this.url) URL.revokeObjectURL(this.url);
    this.element = null;
    this.url = null;
    this.container.replaceChildren();
    this.container.hidden = true;
  }
}

function describeMediaError(error, title) {
  switch (error?.code) {
    case 2:
      return `“${title}” could not be loaded (network error).`;
    case 3:
    case 4:
      return `This browser cannot play “${title}”: its format or codec is not supported. Try an MP4 (H.264/AAC), WebM, MP3 or WAV file.`;
    default:
      return `“${title}” could not be played.`;
  }
}
