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
  // Figures that are not comparable with published ones carry a mark, explained below the table.
  const isPaced = report.speed === 1;
  const ca = isPaced ? '' : '†';
  const rows = report.results.map((r) => [
    String(r.latencyMultiplier),
    number(r.bleu.score, 2),
    number(r.chrf.score, 2),
    number(r.latency.AL, 0) + (r.overGeneratedFiles > 0 ? '*' : ''),
    number(r.latency.AL_CA, 0) + (r.overGeneratedFiles > 0 ? '*' : '') + ca,
    number(r.latency.LAAL, 0),
    number(r.latency.LAAL_CA, 0) + ca,
    number(r.rtf, 3) + ca,
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ');
  const sources = new Set(report.results.map((r) => r.ncaSource));
  const notes = [
    `${report.languagePair}: ${report.files.length} file(s), latency unit ${report.unit}, BLEU tokenizer ${report.bleuTokenizer}, speed ${report.speed === 0 ? 'unpaced' : `${report.speed}x`}`,
    'AL/LAAL in ms (SimulEval definitions); _CA = computation-aware: each unit\'s source delay plus the time from sending that audio to receiving the unit. m = latency multiplier.',
    sources.has('client') || sources.has('mixed')
      ? 'NCA delays: server tracker unavailable for some files; those use audio sent when a unit arrived (upper bound).'
      : 'NCA delays: source audio consumed per unit, from the server tracker (evaluation mode).',
  ];
  if (!isPaced) {
    notes.push(`† not comparable with published figures: audio was sent ${report.speed === 0 ? 'as fast as possible' : `at ${report.speed}x`}, so compute time includes waiting behind chunks a live speaker would not have sent yet, and RTF is not a live stream's. Use --speed 1.`);
  }
  for (const r of report.results) {
    if (r.overGeneratedFiles > 0) {
      notes.push(`* m=${r.latencyMultiplier}: the hypothesis is longer than the reference in ${r.overGeneratedFiles} of ${r.instances.length} file(s); SimulEval's AL then measures against a reference-length ideal and rewards the extra words (it can fall below zero): not comparable; LAAL is.`);
    }
  }
  const banner = report.isDemoModel
    ? [`DEMO MODEL: the server's model for ${report.languagePair} has random weights; its output is not a translation, so these figures test the pipeline, not translation quality.`]
    : [];
  const errors = report.results.flatMap((r) => r.serverErrors.map((e) => `m=${r.latencyMultiplier}: ERROR: ${e}`));
  return [...banner, notes[0], '', line(COLUMNS), ...rows.map(line), '', ...notes.slice(1), ...errors].join('\n');
}
