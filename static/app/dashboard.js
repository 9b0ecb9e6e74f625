/**
 * Operator dashboard: polls the server's own statistics endpoints every 2 s (/health,
 * /ray/stats, /dynamic_schedule_stats, /debug/session_stats, /debug/session_history) and shows
 * sessions, the batcher, the workers and recent problems, with five minutes of history charts.
 */
import { drawBarChart, drawLineChart, renderProportions } from './charts.js';

const POLL_MS = 2000;
const HISTORY_POINTS = 150; // 5 minutes at 2 s
const MAX_EVENTS = 40;

const $ = (selector) => document.querySelector(selector);
const history = { active: [], queued: [], rate: [], prefillQueue: [], decodeQueue: [], prefillMs: [], decodeMs: [] };
const events = [];
let previous = null;
let isPaused = false;
let timer = null;

function push(series, value) {
  series.push(value);
  if (series.length > HISTORY_POINTS) series.shift();
}

// With admin.token set on the server, the operator opens /dashboard#token=<token>: the fragment
// never reaches the server's logs, and the token is kept for this tab only.
const TOKEN_KEY = 'infinisst-admin-token';
const tokenFromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
if (tokenFromUrl) sessionStorage.setItem(TOKEN_KEY, tokenFromUrl);
const adminToken = sessionStorage.getItem(TOKEN_KEY);

async function getJson(path) {
  const headers = { Accept: 'application/json' };
  if (adminToken) headers.Authorization = `Bearer ${adminToken}`;
  const response = await fetch(path, { headers, cache: 'no-store' });
  if (response.status === 401) throw new Error(`${path} needs the operator token: open /dashboard#token=<admin token>`);
  if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
  return response.json();
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function emptyRow(columns, text) {
  const td = cell(text, 'empty');
  td.colSpan = columns;
  return row([td]);
}

function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

const formatMs = (ms) => (Number.isFinite(ms) ? ms.toFixed(ms < 10 ? 1 : 0) : '–');

function addEvent(atSec, text, tone) {
  const key = `${atSec}|${text}`;
  if (events.some((event) => event.key === key)) return;
  events.push({ key, atSec, text, tone });
  events.sort((a, b) => b.atSec - a.atSec);
  events.length = Math.min(events.length, MAX_EVENTS);
}

/** Sums a phase statistic over all models. */
function sumPhase(models, phase, pick) {
  return Object.values(models).reduce((sum, model) => sum + pick(model[phase]), 0);
}

function weightedComputeMs(models, phase) {
  const batches = sumPhase(models, phase, (p) => p.batches);
  if (batches === 0) return null;
  return sumPhase(models, phase, (p) => p.computeMsMean * p.batches) / batches;
}

function renderSessions(list) {
  const body = $('#sessions-body');
  if (list.length === 0) {
    body.replaceChildren(emptyRow(8, 'No sessions.'));
    return;
  }
  body.replaceChildren(...list.map((s) => {
    const lagSec = (s.pending_audio_ms ?? 0) / 1000;
    return row([
      cell(s.session_id, 'mono'),
      cell(s.state ?? (s.queue_position > 0 ? 'queued' : 'active'), `state-${s.state}`),
      cell(s.language_pair.replace(' -> ', ' → ')),
      cell(`${s.latency_multiplier}×`),
      cell(`${lagSec.toFixed(1)} s`, lagSec > 10 ? 'bad' : ''),
      cell(s.queue_position > 0 ? String(s.queue_position) : '–'),
      cell(s.connected ? 'connected' : 'no socket'),
      cell(formatDuration(s.inactive_for)),
    ]);
  }));
}

function renderBatcher(engine, dynamic) {
  const config = engine.batching;
  const schedule = dynamic?.configuration;
  $('#batcher-config').textContent = `In force: max batch size ${config.maxBatchSize}, max wait ${config.maxWaitMs} ms, queue limit ${config.maxQueueSize}` +
    (dynamic ? `; dynamic batching ${dynamic.enabled ? 'on' : 'off'}${schedule ? ` (wait threshold ${schedule.wait_threshold_ms} ms)` : ''}.` : '.');
  const rows = [];
  const histogram = new Map();
  for (const [name, model] of Object.entries(engine.models)) {
    for (const phase of ['prefill', 'decode']) {
      const p = model[phase];
      for (const [size, count] of Object.entries(p.batchSizeHistogram)) histogram.set(Number(size), (histogram.get(Number(size)) ?? 0) + count);
      const reasons = p.flushReasons;
      rows.push(row([
        cell(`${name} (${model.languagePairs.map((pair) => pair.replace('English -> ', 'en→')).join(', ')})`),
        cell(phase),
        cell(String(p.queueDepth), p.queueDepth > config.maxBatchSize ? 'bad' : ''),
        cell(String(p.batches)),
        cell(p.batches > 0 ? (p.items / p.batches).toFixed(1) : '–'),
        cell(formatMs(p.computeMsMean)),
        cell(formatMs(p.waitMsMean)),
        cell(String(p.rejected), p.rejected > 0 ? 'bad' : ''),
        cell(`full ${reasons.full} · timeout ${reasons.timeout} · idle ${reasons.idle}`),
      ]));
    }
  }
  $('#batcher-body').replaceChildren(...(rows.length ? rows : [emptyRow(9, 'No models loaded.')]));
  const bars = [...histogram.entries()].sort((a, b) => a[0] - b[0]).map(([size, count]) => ({ label: String(size), value: count }));
  drawBarChart($('#chart-histogram'), bars);
  const triggers = dynamic?.triggers;
  renderProportions($('#flush-reasons'), [
    { label: 'batch full', value: triggers?.batch_size_triggers ?? 0, color: 'var(--c1)' },
    { label: 'wait timeout', value: triggers?.timeout_triggers ?? 0, color: 'var(--c2)' },
    { label: 'idle (nothing else waiting)', value: triggers?.idle_triggers ?? 0, color: 'var(--c3)' },
  ]);
}

function renderWorkers(engine, pairs) {
  const workers = engine.workers;
  $('#workers-body').replaceChildren(...(workers.length ? workers.map((w) => row([
    cell(`#${w.id}`),
    cell(w.device),
    cell(w.provider),
    cell(w.busy ? 'busy' : 'idle'),
    cell(String(w.restarts), w.restarts > 0 ? 'bad' : ''),
    cell(String(w.batchesRun)),
  ])) : [emptyRow(6, 'No workers.')]));
  $('#models-line').textContent = pairs.length
    ? `Models: ${pairs.map((p) => `${p.language_pair.replace(' -> ', ' → ')}: ${p.model} on ${p.device} (${p.provider}, up to ${p.max_latency_multiplier}×)`).join('; ')}.`
    : 'No language pair has a model loaded.';
}

function renderEvents() {
  const list = $('#events');
  if (events.length === 0) {
    const item = document.createElement('li');
    item.className = 'empty';
    item.textContent = 'Nothing to report.';
    list.replaceChildren(item);
    return;
  }
  list.replaceChildren(...events.map((event) => {
    const item = document.createElement('li');
    item.className = event.tone;
    const time = document.createElement('time');
    time.textContent = new Date(event.atSec * 1000).toLocaleTimeString();
    item.append(time, ` ${event.text}`);
    return item;
  }));
}

function noteChanges(nowSec, engine) {
  if (previous) {
    const newErrors = engine.chunkErrors - previous.chunkErrors;
    if (newErrors > 0) addEvent(nowSec, `${newErrors} chunk${newErrors === 1 ? '' : 's'} failed to translate.`, 'error');
    const restarts = engine.workerRestarts - previous.workerRestarts;
    if (restarts > 0) addEvent(nowSec, `${restarts} worker restart${restarts === 1 ? '' : 's'}.`, 'error');
  }
}

async function poll() {
  const results = await Promise.allSettled([
    getJson('/health'),
    getJson('/ray/stats'),
    getJson('/dynamic_schedule_stats'),
    getJson('/debug/session_stats'),
    getJson('/debug/session_history'),
  ]);
  const [health, ray, dynamic, sessionStats, sessionHistory] = results.map((r) => (r.status === 'fulfilled' ? r.value : null));
  if (health) $('#demo-banner').hidden = health.demo_models !== true;
  const nowSec = Date.now() / 1000;
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.message ?? String(r.reason));
  const status = $('#dash-status');
  if (!health) {
    status.dataset.tone = 'error';
    status.textContent = `Server not reachable (${new Date().toLocaleTimeString()}).`;
    addEvent(nowSec, 'The server did not answer /health.', 'error');
    renderEvents();
    return;
  }
  status.dataset.tone = failed.length ? 'warn' : health.status === 'healthy' ? 'ok' : 'warn';
  status.textContent = `${health.status === 'healthy' ? 'Healthy' : `Status: ${health.status}`} · updated ${new Date().toLocaleTimeString()}${failed.length ? ` · ${failed.join('; ')}` : ''}`;

  const engine = ray?.stats?.engine ?? health.ray_stats?.engine;
  const active = health.active_sessions_count ?? 0;
  const queued = health.queued_sessions_count ?? 0;
  $('#tile-active').textContent = String(active);
  $('#tile-queued').textContent = String(queued);
  $('#tile-uptime').textContent = formatDuration(health.uptime_s);
  push(history.active, active);
  push(history.queued, queued);

  if (engine) {
    const elapsed = previous ? nowSec - previous.atSec : 0;
    const rate = previous && elapsed > 0 ? Math.max(0, engine.chunksProcessed - previous.chunks) / elapsed : null;
    $('#tile-rate').textContent = rate === null ? '–' : rate.toFixed(2);
    $('#tile-chunks').textContent = String(engine.chunksProcessed);
    $('#tile-errors').textContent = String(engine.chunkErrors);
    $('#tile-restarts').textContent = String(engine.workerRestarts);
    push(history.rate, rate);
    push(history.prefillQueue, sumPhase(engine.models, 'prefill', (p) => p.queueDepth));
    push(history.decodeQueue, sumPhase(engine.models, 'decode', (p) => p.queueDepth));
    push(history.prefillMs, weightedComputeMs(engine.models, 'prefill'));
    push(history.decodeMs, weightedComputeMs(engine.models, 'decode'));
    noteChanges(nowSec, engine);
    previous = { atSec: nowSec, chunks: engine.chunksProcessed, chunkErrors: engine.chunkErrors, workerRestarts: engine.workerRestarts };
    renderBatcher(engine, dynamic?.stats);
    renderWorkers(engine, health.language_pairs ?? []);
  }
  renderSessions(sessionStats?.active_sessions ?? []);
  for (const event of sessionHistory?.history ?? []) {
    if (event.event === 'failed' || event.event === 'expired') {
      addEvent(event.at, `Session ${event.session_id} (${event.language_pair}) ${event.event === 'failed' ? 'failed' : 'expired without pings'}.`, event.event === 'failed' ? 'error' : 'warn');
    } else if (event.event === 'queued') {
      addEvent(event.at, `Session ${event.session_id} waited in the queue (no free slot).`, 'warn');
    }
  }
  renderEvents();

  const capacity = HISTORY_POINTS;
  drawLineChart($('#chart-sessions'), [{ label: 'active', color: 'var(--c1)', values: history.active }, { label: 'queued', color: 'var(--c2)', values: history.queued }], { capacity });
  drawLineChart($('#chart-rate'), [{ label: 'chunks/s', color: 'var(--c1)', values: history.rate }], { capacity });
  drawLineChart($('#chart-queue'), [{ label: 'prefill', color: 'var(--c1)', values: history.prefillQueue }, { label: 'decode', color: 'var(--c2)', values: history.decodeQueue }], { capacity });
  drawLineChart($('#chart-compute'), [{ label: 'prefill', color: 'var(--c1)', values: history.prefillMs }, { label: 'decode', color: 'var(--c2)', values: history.decodeMs }], { capacity, unit: ' ms' });
}

async function loop() {
  if (isPaused) return;
  try {
    await poll();
  } catch (error) {
    const status = $('#dash-status');
    status.dataset.tone = 'error';
    status.textContent = `The dashboard could not read the statistics: ${error.message}`;
  }
  timer = setTimeout(loop, POLL_MS);
}

$('#pause').addEventListener('click', (event) => {
  isPaused = !isPaused;
  event.currentTarget.setAttribute('aria-pressed', String(isPaused));
  event.currentTarget.textContent = isPaused ? 'Resume updates' : 'Pause updates';
  clearTimeout(timer);
  if (!isPaused) loop();
});

loop();
