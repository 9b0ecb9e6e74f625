/**
 * The page: wires the session (HTTP), the translator (socket + framing), audio capture and the
 * media player to the controls. State lives here; rendering is in ui.js, wording in status.js.
 */
import { api } from './api.js';
import { CaptureController } from './capture.js';
import { renderControls } from './controls.js';
import { MediaPlayer } from './player.js';
import { LANGUAGE_PAIRS, MAX_MULTIPLIER, TARGET_SAMPLE_RATE_HZ } from './protocol.js';
import { SessionController, createClientId } from './session.js';
import { buildCues, toSrt, toVtt } from './subtitles.js';
import { Transcript } from './transcript.js';
import { Translator } from './translator.js';
import { $, TranslationView, downloadText, renderLevel } from './ui.js';
import { YoutubeLoader, looksLikeYoutubeUrl } from './youtube.js';

const params = new URLSearchParams(location.search);
const IDLE_LIMIT_MS = 5 * 60 * 1000;
const COMPLETE_WAIT_MS = 8000;
const CONFIRMATION_MS = 5000;

const page = {
  translator: null,
  capture: 'none',
  isCapturing: false,
  notice: null,
  streamNote: null,
  socket: 'idle',
  socketInfo: null,
  timelineSamples: 0,
  servedPairs: null,
  lastActivityMs: Date.now(),
  completeWaiters: [],
};

const transcript = new Transcript();
const view = new TranslationView($('#translation'), $('#jump-latest'));
const session = new SessionController({ api, clientId: createClientId(), onChange: onSessionChange });
const player = new MediaPlayer($('#player'), {
  onLoaded: (element) => capture.onMediaLoaded(element),
  onPlay: () => capture.onMediaPlay(),
  onPause: () => capture.onMediaPause(),
  onEnded: () => capture.onMediaEnded(),
  onError: (text) => notify(text, 'error'),
});
const capture = new CaptureController({
  page,
  player,
  onChange: () => refresh(),
  onLevel: (peak) => renderLevel($('#level'), peak),
  onError: (text) => notify(text, 'error'),
  onActivity: () => markActivity(),
});
const youtube = new YoutubeLoader({ api, onProgress: showYoutubeProgress });
const languageSelect = $('#language');
const latencySelect = $('#latency');

/** Shows a message in the status line; a transient one (confirmations) clears itself. */
function notify(text, tone = 'info', transientMs = 0) {
  const notice = text ? { text, tone } : null;
  page.notice = notice;
  if (notice && transientMs > 0) {
    setTimeout(() => {
      if (page.notice !== notice) return;
      page.notice = null;
      refresh();
    }, transientMs);
  }
  refresh();
}

const markActivity = () => { page.lastActivityMs = Date.now(); };

// --- language pairs ------------------------------------------------------------------------

async function loadServerInfo() {
  try {
    const health = await api.health();
    const served = Array.isArray(health.language_pairs) ? health.language_pairs : [];
    page.servedPairs = new Map(served.map((info) => [info.language_pair, info]));
    // Demo (random-weight) models produce words, not translations: say so where the text appears.
    $('#demo-banner').hidden = health.demo_models !== true;
    $('#server-state').textContent = health.status === 'healthy' ? 'Server online' : `Server: ${health.status}`;
  } catch {
    page.servedPairs = null;
    $('#server-state').textContent = 'Server not reachable';
  }
  fillLanguages();
}

function fillLanguages() {
  const served = page.servedPairs;
  languageSelect.replaceChildren(...LANGUAGE_PAIRS.map((pair) => {
    const isServed = !served || served.has(pair.id);
    const option = document.createElement('option');
    option.value = pair.id;
    option.textContent = isServed ? pair.label : `${pair.label} (no model loaded)`;
    option.disabled = !isServed;
    return option;
  }));
  const previous = languageSelect.dataset.chosen;
  const first = LANGUAGE_PAIRS.find((pair) => !served || served.has(pair.id));
  if (previous && (!served || served.has(previous))) languageSelect.value = previous;
  else if (first) languageSelect.value = first.id;
  $('#language-hint').textContent = !served
    ? 'Could not check which models the server has loaded.'
    : served.size === 0 ? 'The server has no translation model loaded.' : `Models loaded: ${LANGUAGE_PAIRS.filter((pair) => served.has(pair.id)).map((pair) => pair.label).join(', ')}.`;
  limitLatencyOptions();
  refresh();
}

function limitLatencyOptions() {
  const max = page.servedPairs?.get(languageSelect.value)?.max_latency_multiplier ?? MAX_MULTIPLIER;
  for (const option of latencySelect.options) option.disabled = Number(option.value) > max;
  if (Number(latencySelect.value) > max) latencySelect.value = String(max);
}

// --- session and translator ----------------------------------------------------------------

function onSessionChange() {
  if (session.hasSession) latencySelect.value = String(session.multiplier);
  if (session.state === 'active' && !page.translator) openTranslator();
  if ((session.state === 'idle' || session.state === 'lost') && page.translator) closeTranslator();
  refresh();
}

function openTranslator() {
  // A new session's text starts empty: keep the earlier text as its own block.
  transcript.startBlock();
  view.render(transcript, 'rewritten');
  page.streamNote = null;
  page.translator = new Translator({
    sessionId: session.sessionId,
    multiplier: session.multiplier,
    onFrame: onServerFrame,
    onSocketState: (state, info) => {
      page.socket = state;
      page.socketInfo = info ?? null;
      if (state === 'failed') session.markLost(info?.message ?? 'The connection to the translator ended.');
      refresh();
    },
  });
}

function closeTranslator() {
  capture.stopNow();
  page.translator?.close();
  page.translator = null;
  page.socket = 'idle';
  settleCompleteWaiters();
}

function onServerFrame(frame) {
  switch (frame.kind) {
    case 'translation': {
      const mode = transcript.applyFull(frame.text, page.timelineSamples / TARGET_SAMPLE_RATE_HZ);
      if (mode !== 'unchanged') view.render(transcript, mode);
      markActivity();
      break;
    }
    case 'ready':
      page.streamNote = null;
      break;
    case 'initializing':
      page.streamNote = { text: frame.text || 'Waiting for the translator…', tone: 'busy' };
      break;
    case 'error':
      page.streamNote = { text: `The server reported a problem: ${frame.text}. Translation continues.`, tone: 'error' };
      setTimeout(() => { if (page.streamNote?.tone === 'error') { page.streamNote = null; refresh(); } }, 10000);
      break;
    case 'complete':
      if (!page.isCapturing) page.streamNote = { text: 'Done: everything you sent has been translated.', tone: 'ok' };
      settleCompleteWaiters();
      break;
    default:
      break;
  }
  refresh();
}

function settleCompleteWaiters() {
  for (const resolve of page.completeWaiters.splice(0)) resolve();
}

function waitForComplete() {
  if (!page.translator?.isFinishing) return Promise.resolve();
  return new Promise((resolve) => {
    page.completeWaiters.push(resolve);
    setTimeout(resolve, COMPLETE_WAIT_MS);
  });
}

// --- controls ------------------------------------------------------------------------------

async function onStart() {
  page.notice = null;
  markActivity();
  const pipelineReady = capture.ensurePipeline().catch((error) => notify(error.message, 'error'));
  try {
    await session.start(languageSelect.value, Number(latencySelect.value));
  } catch (error) {
    notify(`The session could not start: ${error.message}`, 'error');
    loadServerInfo();
  }
  await pipelineReady;
}

async function onStop() {
  markActivity();
  await capture.stopAll();
  await waitForComplete();
  closeTranslator();
  await session.end();
  notify(transcript.isEmpty ? '' : 'Session ended. Your translation stays here: download it, or press Start for a new session.', 'info');
}

async function onLatencyChange() {
  const multiplier = Number(latencySelect.value);
  markActivity();
  if (!session.hasSession) return;
  latencySelect.disabled = true;
  try {
    await session.setMultiplier(multiplier);
    page.translator?.setMultiplier(multiplier);
    notify(`Latency set to ${multiplier}×; it applies from the next audio step.`, 'ok', CONFIRMATION_MS);
  } catch (error) {
    latencySelect.value = String(session.multiplier);
    notify(`The latency could not be changed: ${error.message}`, 'error');
  } finally {
    latencySelect.disabled = false;
    refresh();
  }
}

async function onReset() {
  markActivity();
  try {
    await session.reset();
  } catch (error) {
    notify(`The translation could not be reset: ${error.message}`, 'error');
    return;
  }
  page.translator?.discardPending();
  transcript.clear();
  page.timelineSamples = 0;
  page.streamNote = null;
  view.render(transcript, 'rewritten');
  notify('Translation cleared. New audio starts a fresh text.', 'ok', CONFIRMATION_MS);
}

function onDownload(format) {
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
  const pair = LANGUAGE_PAIRS.find((item) => item.id === (session.languagePair ?? languageSelect.value));
  const name = `translation-en-${pair?.target ?? 'xx'}-${stamp}`;
  if (format === 'txt') downloadText(`${name}.txt`, `${transcript.text}\n`, 'text/plain;charset=utf-8');
  else if (format === 'srt') downloadText(`${name}.srt`, toSrt(buildCues(transcript.allParts())), 'application/x-subrip;charset=utf-8');
  else downloadText(`${name}.vtt`, toVtt(buildCues(transcript.allParts())), 'text/vtt;charset=utf-8');
}

async function onYoutubeSubmit(event) {
  event.preventDefault();
  const url = $('#youtube-url').value.trim();
  if (!looksLikeYoutubeUrl(url)) {
    notify('That does not look like a YouTube link. Paste an address such as https://www.youtube.com/watch?v=… or https://youtu.be/…', 'error');
    return;
  }
  page.notice = null;
  $('#youtube-cancel').hidden = false;
  try {
    const blob = await youtube.load(url, session.sessionId);
    showYoutubeProgress('', null);
    const element = player.load(blob, 'YouTube video');
    element.play().catch(() => notify('The video is ready: press play to start translating it.', 'info'));
  } catch (error) {
    showYoutubeProgress('', null);
    if (error?.name !== 'AbortError') notify(error.message, 'error');
  } finally {
    $('#youtube-cancel').hidden = true;
  }
}

function showYoutubeProgress(text, percent) {
  $('#youtube-progress-text').textContent = text;
  const bar = $('#youtube-progress');
  bar.hidden = !text;
  if (percent === null) bar.removeAttribute('value');
  else bar.value = percent;
}

function onFileChosen() {
  const file = $('#file-input').files?.[0];
  if (!file) return;
  page.notice = null;
  const element = player.load(file, file.name);
  element.play().catch(() => notify('The file is ready: press play to start translating it.', 'info'));
}

function showSourcePanel() {
  const choice = document.querySelector('input[name="source"]:checked')?.value ?? 'mic';
  for (const name of ['mic', 'file', 'youtube']) $(`#panel-${name}`).hidden = name !== choice;
}

// --- rendering -----------------------------------------------------------------------------

function refresh() {
  renderControls({ session, page, transcript, isYoutubeLoading: youtube.isLoading });
}

// --- wiring --------------------------------------------------------------------------------

$('#start').addEventListener('click', onStart);
$('#stop').addEventListener('click', onStop);
$('#reset').addEventListener('click', onReset);
latencySelect.addEventListener('change', onLatencyChange);
languageSelect.addEventListener('change', () => {
  languageSelect.dataset.chosen = languageSelect.value;
  limitLatencyOptions();
  refresh();
});
$('#mic-toggle').addEventListener('click', () => {
  markActivity();
  const action = page.capture === 'mic' ? capture.stopMicrophone() : capture.startMicrophone();
  action.catch((error) => notify(error.message, 'error'));
});
$('#file-input').addEventListener('change', onFileChosen);
$('#youtube-form').addEventListener('submit', onYoutubeSubmit);
$('#youtube-cancel').addEventListener('click', () => youtube.cancel());
for (const radio of document.querySelectorAll('input[name="source"]')) radio.addEventListener('change', showSourcePanel);
for (const button of document.querySelectorAll('[data-download]')) button.addEventListener('click', () => onDownload(button.dataset.download));
for (const type of ['pointerdown', 'keydown']) document.addEventListener(type, markActivity, { passive: true });
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') session.ping(); });
window.addEventListener('online', () => { page.translator?.retryNow(); session.ping(); });
window.addEventListener('pagehide', () => { session.endOnUnload(); page.translator?.close(); });

setInterval(() => {
  const isBusy = page.isCapturing || player.isPlaying || youtube.isLoading;
  if (session.hasSession && !isBusy && Date.now() - page.lastActivityMs > IDLE_LIMIT_MS) {
    onStop().then(() => notify('The session was ended after 5 minutes without activity, so that others can use the translator. Press Start to begin again.', 'info'));
  }
}, 15000);

view.render(transcript, 'rewritten');
showSourcePanel();
refresh();
await loadServerInfo();
if (params.get('test') === 'true') import('./test-mode.js').then((module) => module.runTestMode({ session, player, ensurePipeline: () => capture.ensurePipeline(), notify, onStart }));
