/**
 * The one status line: what is going on, in words a person understands, from a snapshot of the
 * page's state. Pure, so every wording can be checked in a unit test.
 */

/**
 * @param {{ session: string, queuePosition: number, queueWaitSeconds?: number|null, sessionProblem: string|null,
 *           socket: string, socketInfo: { attempt?: number, message?: string }|null,
 *           capture: 'none'|'mic'|'media', isCapturing: boolean, isFinishing: boolean,
 *           notice: { text: string, tone: string }|null, streamNote: { text: string, tone: string }|null }} s
 * @returns {{ text: string, tone: 'info'|'busy'|'ok'|'warn'|'error' }}
 */
/** ", about 3 minutes to wait" from the server's estimate; nothing when it has none. */
function waitWords(seconds) {
  if (typeof seconds !== 'number' || !(seconds > 0)) return '';
  if (seconds < 90) return `, about ${Math.max(10, Math.round(seconds / 10) * 10)} seconds to wait`;
  return `, about ${Math.round(seconds / 60)} minutes to wait`;
}

export function describeStatus(s) {
  switch (s.session) {
    case 'lost':
      return { text: s.sessionProblem ?? 'The session ended. Press Start to begin a new one.', tone: 'error' };
    case 'starting':
      return { text: 'Starting a translation session…', tone: 'busy' };
    case 'ending':
      return { text: 'Ending the session…', tone: 'busy' };
    case 'queued':
      return {
        text: `Queued: all translation slots are busy. You are number ${s.queuePosition || '…'} in line${waitWords(s.queueWaitSeconds)}; this page starts by itself when a slot frees.`,
        tone: 'warn',
      };
    case 'initializing':
      return { text: 'Preparing the translator…', tone: 'busy' };
    case 'idle':
      return s.notice ?? { text: 'Choose a language pair and a latency, then press Start.', tone: 'info' };
    default:
      break;
  }
  // Active session. A notice is the answer to something the person just did: it comes first.
  if (s.notice && (s.notice.tone === 'error' || s.notice.tone === 'ok')) return s.notice;
  if (s.socket === 'reconnecting') {
    const attempt = s.socketInfo?.attempt ?? 1;
    return { text: `Connection lost; reconnecting (attempt ${attempt})… Your text is kept and new audio is held until the connection is back.`, tone: 'warn' };
  }
  if (s.socket === 'connecting') return { text: 'Connecting to the translator…', tone: 'busy' };
  if (s.sessionProblem) return { text: `${s.sessionProblem}`, tone: 'warn' };
  if (s.streamNote && s.streamNote.tone === 'error') return s.streamNote;
  if (s.isCapturing) {
    return s.capture === 'mic'
      ? { text: 'Listening and translating… speak now.', tone: 'ok' }
      : { text: 'Playing and translating…', tone: 'ok' };
  }
  if (s.isFinishing) return { text: 'Translating the last words…', tone: 'busy' };
  if (s.notice) return s.notice;
  if (s.streamNote) return s.streamNote;
  if (s.capture === 'media') return { text: 'Paused. Press play to continue translating.', tone: 'info' };
  return { text: 'Ready. Choose a source: the microphone, a local file or a YouTube link.', tone: 'ok' };
}
