/**
 * `/?test=true` (spec §3.6): start a session, wait up to 30 s for a slot, fetch
 * /test_video/0000AAAA.mp4 and play it; if the browser blocks autoplay, ask for one click.
 */
import { api } from './api.js';

const SLOT_WAIT_MS = 30000;

function waitForActive(session) {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const isDone = session.state === 'active' || session.state === 'lost' || session.state === 'idle';
      if (isDone || Date.now() - started > SLOT_WAIT_MS) {
        clearInterval(timer);
        resolve(session.state === 'active');
      }
    }, 250);
  });
}

export async function runTestMode({ session, player, ensurePipeline, notify, onStart }) {
  await onStart();
  if (!(await waitForActive(session))) {
    if (session.state !== 'idle') notify('Test mode: no translation slot became free within 30 seconds. Try again later.', 'error');
    return;
  }
  let blob;
  try {
    blob = await api.testVideo('0000AAAA.mp4');
  } catch (error) {
    notify(error.message, 'error');
    return;
  }
  const element = player.load(new Blob([blob], { type: blob.type || 'video/mp4' }), 'Test video 0000AAAA.mp4');
  let pipeline = null;
  try {
    pipeline = await ensurePipeline();
    await element.play();
    if (pipeline.isRunning) return;
  } catch {
    // Autoplay refused: ask for a click below.
  }
  element.pause();
  const overlay = document.querySelector('#autoplay-overlay');
  const button = document.querySelector('#autoplay-start');
  overlay.hidden = false;
  button.focus();
  button.addEventListener('click', async () => {
    overlay.hidden = true;
    try {
      pipeline ??= await ensurePipeline();
      pipeline.resume();
      await element.play();
    } catch (error) {
      notify(`The test video could not start: ${error.message}`, 'error');
    }
  }, { once: true });
}
