/**
 * Enables, disables and labels the page's controls for the current state, and renders the
 * status line and the state attributes on <body> (which tests and styles read).
 */
import { describeStatus } from './status.js';
import { $, renderStatus } from './ui.js';

/** @param {{ session: import('./session.js').SessionController, page: object, transcript: import('./transcript.js').Transcript, isYoutubeLoading: boolean }} s */
export function renderControls({ session, page, transcript, isYoutubeLoading }) {
  const state = session.state;
  const isActive = state === 'active';
  const hasSession = session.hasSession;
  const status = describeStatus({
    session: state,
    queuePosition: session.queuePosition,
    queueWaitSeconds: session.queueWaitSeconds,
    sessionProblem: session.problem,
    socket: page.socket,
    socketInfo: page.socketInfo,
    capture: page.capture,
    isCapturing: page.isCapturing,
    isFinishing: page.translator?.isFinishing ?? false,
    notice: page.notice,
    streamNote: page.streamNote,
  });
  renderStatus(status.text, status.tone);
  document.body.dataset.session = state;
  document.body.dataset.socket = page.socket;
  document.body.dataset.capture = page.isCapturing ? page.capture : 'none';

  const language = $('#language');
  language.disabled = hasSession || state === 'starting';
  const start = $('#start');
  start.disabled = hasSession || state === 'starting' || state === 'ending' || language.selectedOptions[0]?.disabled !== false;
  start.textContent = state === 'lost' ? 'Start a new session' : 'Start';
  $('#stop').disabled = !hasSession || state === 'ending';
  $('#source-choice').disabled = !isActive;
  const mic = $('#mic-toggle');
  const isMicOn = page.capture === 'mic';
  mic.disabled = !isActive;
  mic.textContent = isMicOn ? 'Stop microphone' : 'Start microphone';
  mic.setAttribute('aria-pressed', String(isMicOn));
  $('#file-input').disabled = !isActive;
  $('#youtube-url').disabled = !isActive || isYoutubeLoading;
  $('#youtube-load').disabled = !isActive || isYoutubeLoading;
  $('#reset').disabled = !isActive;
  for (const button of document.querySelectorAll('[data-download]')) button.disabled = transcript.isEmpty;
}
