/**
 * Subtitles from a translation stream (server side / CLI only). The server sends the whole
 * translation so far in every frame; each cue is the text one frame added, shown from the audio
 * position at which that frame arrived until the next frame's position (the last one until the end
 * of the audio).
 */

export interface TranslationEvent {
  /** Audio position (ms from the start of the media) when the frame arrived. */
  atMs: number;
  /** Text this frame added to the translation. */
  text: string;
}

export interface SubtitleCue {
  startMs: number;
  endMs: number;
  text: string;
}

/** Shortest time a cue stays on screen when frames arrive (almost) together. */
export const minCueMs = 500;

/**
 * Turns translation events into cues: empty additions are skipped, times are made non-decreasing,
 * and each cue lasts until the next one starts (the last one until `endMs`, at least `minCueMs`).
 */
export function buildCues(events: readonly TranslationEvent[], endMs: number): SubtitleCue[] {
  const kept = events
    .map((event) => ({ atMs: Math.max(0, event.atMs), text: event.text.trim() }))
    .filter((event) => event.text.length > 0);
  const cues: SubtitleCue[] = [];
  let previousStart = 0;
  kept.forEach((event, index) => {
    const startMs = Math.max(previousStart, event.atMs);
    const next = kept[index + 1];
    const naturalEnd = next ? Math.max(startMs, next.atMs) : Math.max(endMs, startMs);
    cues.push({ startMs, endMs: Math.max(naturalEnd, startMs + minCueMs), text: event.text });
    previousStart = startMs;
  });
  return cues;
}

/** The text a cumulative frame adds to the previous one ("" when nothing was added). */
export function addedText(previousFullText: string, fullText: string): string {
  // After a reset the server starts again from empty: the whole frame is new text.
  if (!fullText.startsWith(previousFullText)) return fullText.trim();
  return fullText.slice(previousFullText.length).trim();
}

/** SubRip (.srt): numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, blank line between cues. */
export function formatSrt(cues: readonly SubtitleCue[]): string {
  return cues
    .map((cue, index) => `${index + 1}\n${timestamp(cue.startMs, ',')} --> ${timestamp(cue.endMs, ',')}\n${oneParagraph(cue.text)}\n`)
    .join('\n');
}

/** WebVTT (.vtt): `WEBVTT` header, `HH:MM:SS.mmm --> HH:MM:SS.mmm`, cue text escaped. */
export function formatVtt(cues: readonly SubtitleCue[]): string {
  const body = cues
    .map((cue) => `${timestamp(cue.startMs, '.')} --> ${timestamp(cue.endMs, '.')}\n${escapeVtt(oneParagraph(cue.text))}\n`)
    .join('\n');
  return body.length > 0 ? `WEBVTT\n\n${body}` : 'WEBVTT\n';
}

/** `HH:MM:SS<sep>mmm` for a time in milliseconds (negative times clamp to zero). */
export function timestamp(ms: number, separator: ',' | '.'): string {
  const total = Math.max(0, Math.round(ms));
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = Math.floor((total % 60_000) / 1000);
  const millis = total % 1000;
  const pad = (value: number, width: number): string => String(value).padStart(width, '0');
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}${separator}${pad(millis, 3)}`;
}

// A blank line would end the cue early in both formats.
function oneParagraph(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/\n{2,}/g, '\n');
}

// "-->" would also break a VTT cue, but it cannot survive escaping ">".
function escapeVtt(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
