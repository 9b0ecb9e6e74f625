/**
 * Text rendering of an evaluation report: one row per latency multiplier with quality (BLEU,
 * chrF), latency (AL and LAAL, non-computation-aware and computation-aware, in ms) and the
 * real-time factor, followed by notes on how the figures were obtained.
 */
import type { EvalReport } from './eval-runner.ts';

const COLUMNS = ['m', 'BLEU', 'chrF', 'AL', 'AL_CA', 'LAAL', 'LAAL_CA', 'RTF'] as const;

function number(value: number | null, digits: number): string {
  return value === null ? 'n/a' : value.toFixed(digits);
}

/** The table printed by `npm run eval`. */
export function formatReport(report: EvalReport): string {
  const rows = report.results.map((r) => [
    String(r.latencyMultiplier),
    number(r.bleu.score, 2),
    number(r.chrf.score, 2),
    number(r.latency.AL, 0),
    number(r.latency.AL_CA, 0),
    number(r.latency.LAAL, 0),
    number(r.latency.LAAL_CA, 0),
    number(r.rtf, 3),
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ');
  const sources = new Set(report.results.map((r) => r.ncaSource));
  const notes = [
    `${report.languagePair}: ${report.files.length} file(s), latency unit ${report.unit}, BLEU tokenizer ${report.bleuTokenizer}, speed ${report.speed === 0 ? 'unpaced' : `${report.speed}x`}`,
    'AL/LAAL in ms; _CA = computation-aware (wall clock since stream start). m = latency multiplier.',
    sources.has('client') || sources.has('mixed')
      ? 'NCA delays: server tracker unavailable for some files; those use audio sent when a unit arrived (upper bound).'
      : 'NCA delays: source audio consumed per unit, from the server tracker (evaluation mode).',
  ];
  if (report.speed !== 1) notes.push('CA delays and RTF describe a live stream only at --speed 1.');
  const errors = report.results.flatMap((r) => r.serverErrors.map((e) => `m=${r.latencyMultiplier}: ERROR: ${e}`));
  return [notes[0], '', line(COLUMNS), ...rows.map(line), '', ...notes.slice(1), ...errors].join('\n');
}
