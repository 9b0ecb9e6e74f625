/**
 * Offline evaluation: streams every audio file once per latency multiplier through a running
 * server and scores the outputs — corpus BLEU and chrF against the references, SimulEval latency
 * (AL, LAAL, AP, DAL; NCA and CA) with one instance per file, and the real-time factor.
 *
 * NCA delays: the server's own tracker (evaluation mode, /session_delays details) knows how much
 * audio each chunk had consumed; when it answers with exactly the units the client saw, those are
 * used. Otherwise the client falls back to the audio it had *sent* when a unit arrived — an upper
 * bound that includes network and queueing time, reported as `ncaSource: "client"`.
 */
import { corpusBleu, type BleuResult } from './bleu.ts';
import { defaultBleuTokenizer, type BleuTokenizerName } from './bleu-tokenizers.ts';
import { corpusChrf, type ChrfResult } from './chrf.ts';
import type { InstanceLogEntry } from './delay-tracker.ts';
import { parseLanguagePair, type UnitKind } from './language.ts';
import { scoreLatency, type LatencyScores } from './latency-metrics.ts';
import { demoPairs } from '../client/translation-client.ts';
import { computationAwareDelays, streamFile, type StreamFileResult } from './stream-client.ts';
import { joinUnits, splitUnits } from './units.ts';

export interface EvalItem {
  name: string;
  samples: Float32Array;
  reference: string;
}

export interface EvalRunOptions {
  baseUrl: string;
  languagePair: string;
  latencies: readonly number[];
  speed: number;
  items: readonly EvalItem[];
  /** Extra wait for PROCESSING_COMPLETE beyond the paced audio duration. */
  completionTimeoutMs?: number;
  log?: (line: string) => void;
}

export type NcaSource = 'server' | 'client' | 'mixed';

export interface LatencyRunResult {
  latencyMultiplier: number;
  bleu: BleuResult;
  chrf: ChrfResult;
  latency: LatencyScores;
  /** Wall-clock stream time (start → PROCESSING_COMPLETE) over audio time, summed over files. */
  rtf: number;
  audioMs: number;
  wallMs: number;
  ncaSource: NcaSource;
  /** Files whose hypothesis has more units than their reference: SimulEval's AL rewards that (it can fall below zero). */
  overGeneratedFiles: number;
  serverErrors: string[];
  instances: InstanceLogEntry[];
}

export interface EvalReport {
  languagePair: string;
  unit: UnitKind;
  bleuTokenizer: BleuTokenizerName;
  speed: number;
  url: string;
  files: string[];
  results: LatencyRunResult[];
  /** The server marks the pair's model as a random-weight demo: the scores measure the pipeline, not translation quality. */
  isDemoModel: boolean;
}

function toInstance(index: number, item: EvalItem, stream: StreamFileResult, kind: UnitKind): InstanceLogEntry {
  const delays = stream.serverSourceMs ?? stream.units.map((u) => Math.min(u.sentAudioMs, stream.audioMs));
  return {
    index,
    prediction: joinUnits(stream.units.map((u) => u.unit), kind),
    delays,
    elapsed: computationAwareDelays(delays, stream.units.map((u) => u.elapsedMs), stream.sends),
    prediction_length: stream.units.length,
    source_length: stream.audioMs,
    source: [item.name],
    reference: item.reference,
    latency_unit: kind,
  };
}

/** Runs the whole evaluation; throws the first stream failure (AppError) it meets. */
export async function runEvaluation(options: EvalRunOptions): Promise<EvalReport> {
  const pair = parseLanguagePair(options.languagePair);
  const tokenizer = defaultBleuTokenizer(pair.targetCode);
  const results: LatencyRunResult[] = [];
  const isDemoModel = (await demoPairs(options.baseUrl)).includes(options.languagePair);
  for (const multiplier of options.latencies) {
    const streams: StreamFileResult[] = [];
    for (const [index, item] of options.items.entries()) {
      const audioMs = (item.samples.length * 1000) / 16_000;
      const pacedMs = options.speed > 0 ? audioMs / options.speed : 0;
      const file = `m=${multiplier} [${index + 1}/${options.items.length}] ${item.name}`;
      options.log?.(`${file} (${(audioMs / 1000).toFixed(1)} s)`);
      streams.push(
        await streamFile({
          baseUrl: options.baseUrl,
          languagePair: options.languagePair,
          unitKind: pair.unitKind,
          latencyMultiplier: multiplier,
          samples: item.samples,
          speed: options.speed,
          timeoutMs: pacedMs + (options.completionTimeoutMs ?? 120_000),
          ...(options.log ? { onProgress: (sentMs: number) => options.log?.(`  ${file}: ${(sentMs / 1000).toFixed(0)} of ${(audioMs / 1000).toFixed(0)} s sent`) } : {}),
        }),
      );
    }
    const instances = streams.map((stream, i) => toInstance(i, options.items[i] as EvalItem, stream, pair.unitKind));
    const hypotheses = streams.map((s) => s.finalText);
    const references = [options.items.map((item) => item.reference)];
    const serverCount = streams.filter((s) => s.serverSourceMs).length;
    const audioMs = streams.reduce((sum, s) => sum + s.audioMs, 0);
    const wallMs = streams.reduce((sum, s) => sum + s.completedMs, 0);
    results.push({
      latencyMultiplier: multiplier,
      bleu: corpusBleu(hypotheses, references, { tokenize: tokenizer }),
      chrf: corpusChrf(hypotheses, references),
      latency: scoreLatency(
        instances.map((instance) => ({
          delays: instance.delays,
          elapsed: instance.elapsed,
          sourceLengthMs: instance.source_length,
          referenceLength: splitUnits(instance.reference ?? '', pair.unitKind).length,
        })),
      ),
      rtf: audioMs > 0 ? wallMs / audioMs : 0,
      audioMs,
      wallMs,
      ncaSource: serverCount === streams.length ? 'server' : serverCount === 0 ? 'client' : 'mixed',
      overGeneratedFiles: instances.filter((instance) => {
        const referenceLength = splitUnits(instance.reference ?? '', pair.unitKind).length;
        return referenceLength > 0 && instance.prediction_length > referenceLength;
      }).length,
      serverErrors: streams.flatMap((s) => s.serverErrors),
      instances,
    });
  }
  return {
    languagePair: options.languagePair,
    unit: pair.unitKind,
    bleuTokenizer: tokenizer,
    speed: options.speed,
    url: options.baseUrl,
    files: options.items.map((item) => item.name),
    results,
    isDemoModel,
  };
}
