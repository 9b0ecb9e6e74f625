/**
 * Subtitles from the parts of a transcript: a cue starts when its part arrived (its position on
 * the audio timeline) and ends when the next one arrived, within reading-time bounds. Long parts
 * are split into cues of at most two lines.
 */
const MAX_LINE_CHARS = 42;
const MIN_CUE_SEC = 1;
const MAX_CUE_SEC = 7;
/** Parts arriving this close together are one cue. */
const MERGE_WITHIN_SEC = 0.25;

/** Wraps text into lines of at most `width` characters (hard breaks for unspaced scripts). */
export function wrapLines(text, width = MAX_LINE_CHARS) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let rest = word;
    while (rest.length > width) {
      if (line) {
        lines.push(line);
        line = '';
      }
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    if (!line) line = rest;
    else if (line.length + 1 + rest.length <= width) line += ` ${rest}`;
    else {
      lines.push(line);
      line = rest;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** Turns transcript parts into timed cues. */
export function buildCues(parts) {
  const merged = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (last && part.atSec - last.atSec < MERGE_WITHIN_SEC) last.text += part.text;
    else merged.push({ text: part.text, atSec: part.atSec });
  }
  const cues = [];
  merged.forEach((part, index) => {
    const text = part.text.trim();
    if (!text) return;
    const next = merged[index + 1];
    const start = part.atSec;
    const readingSec = Math.min(MAX_CUE_SEC, Math.max(MIN_CUE_SEC + 0.5, text.length * 0.06));
    let end = next ? Math.min(next.atSec, start + MAX_CUE_SEC) : start + readingSec;
    if (end - start < MIN_CUE_SEC / 2) end = start + MIN_CUE_SEC / 2;
    const lines = wrapLines(text);
    const pieces = [];
    for (let i = 0; i < lines.length; i += 2) pieces.push(lines.slice(i, i + 2));
    const share = (end - start) / pieces.length;
    pieces.forEach((pieceLines, pieceIndex) => {
      cues.push({ startSec: start + share * pieceIndex, endSec: start + share * (pieceIndex + 1), lines: pieceLines });
    });
  });
  return cues;
}

/** hh:mm:ss,mmm (SRT) or hh:mm:ss.mmm (WebVTT). */
export function formatTimestamp(seconds, separator) {
  const totalMs = Math.max(0, Math.round(seconds * 1000));
  const ms = totalMs % 1000;
  const totalSec = Math.floor(totalMs / 1000);
  const pad = (value, width = 2) => String(value).padStart(width, '0');
  return `${pad(Math.floor(totalSec / 3600))}:${pad(Math.floor(totalSec / 60) % 60)}:${pad(totalSec % 60)}${separator}${pad(ms, 3)}`;
}

export function toSrt(cues) {
  return cues
    .map((cue, index) => `${index + 1}\n${formatTimestamp(cue.startSec, ',')} --> ${formatTimestamp(cue.endSec, ',')}\n${cue.lines.join('\n')}\n`)
    .join('\n');
}

/** WebVTT cue text is markup: & and < must be escaped, and "-->" may not appear. */
function escapeVtt(text) {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

export function toVtt(cues) {
  const body = cues
    .map((cue) => `${formatTimestamp(cue.startSec, '.')} --> ${formatTimestamp(cue.endSec, '.')}\n${escapeVtt(cue.lines.join('\n'))}\n`)
    .join('\n');
  return `WEBVTT\n\n${body}`;
}
