/**
 * `npm run eval -- [--audio DIR|FILE.wav|LIST] [--refs FILE] [--pair "English -> German"]
 *   [--latency 1,2,3,4] [--speed N] [--url URL] [--json OUT.json] [--timeout S]`
 *
 * Streams each audio file through a running server's public WebSocket API, once per latency
 * multiplier, and prints BLEU, chrF, AL and LAAL (non-computation-aware and computation-aware)
 * and the real-time factor per multiplier. Defaults use the bundled sample set (samples/eval).
 * Exit codes: 0 done, 1 evaluation failed, 2 bad arguments.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadEvalItems } from '../src/evaluation/eval-inputs.ts';
import { formatReport } from '../src/evaluation/eval-report.ts';
import { runEvaluation } from '../src/evaluation/eval-runner.ts';
import { parseLanguagePair } from '../src/evaluation/language.ts';
import { DEFAULT_LANGUAGE_PAIR, DEFAULT_SERVER_URL, parseCommandLine, SHARED_FLAGS_NOTE } from './command-line.ts';

const USAGE = `Usage: npm run eval -- [options]
  --audio PATH     folder of 16 kHz .wav files, one .wav, or a list file (default samples/eval/wav)
  --refs FILE      one reference per audio file, same order (default samples/eval/refs.<target>.txt)
  --pair PAIR      language pair id (default "English -> German")
  --latency LIST   latency multipliers, comma-separated (default 2)
  --speed N        stream at N x real time; 0 = as fast as possible (default 1)
  --url URL        server base URL (default http://127.0.0.1:8000)
  --json FILE      also write the report as JSON
  --timeout S      extra seconds to wait for PROCESSING_COMPLETE per file (default 120)
  --quiet          no progress lines
  -h, --help       this text

${SHARED_FLAGS_NOTE}`;

class UsageError extends Error {}

function positiveNumber(raw: string, name: string, allowZero = false): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new UsageError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  return value;
}

function parseLatencies(raw: string): number[] {
  const values = raw.split(',').map((part) => part.trim());
  return values.map((part) => {
    const value = Number(part);
    if (!Number.isInteger(value) || value < 1 || value > 16) throw new UsageError(`--latency takes integers 1..16, got "${part}"`);
    return value;
  });
}

async function main(): Promise<number> {
  const { values } = parseCommandLine('eval', USAGE, {
    audio: { type: 'string' },
    refs: { type: 'string' },
    pair: { type: 'string', default: DEFAULT_LANGUAGE_PAIR },
    latency: { type: 'string', default: '2' },
    speed: { type: 'string', default: '1' },
    url: { type: 'string', default: DEFAULT_SERVER_URL },
    json: { type: 'string' },
    timeout: { type: 'string', default: '120' },
    quiet: { type: 'boolean', default: false },
  });
  const pair = parseLanguagePair(values.pair);
  if (!pair.targetCode && values.refs === undefined) throw new UsageError(`unknown target language in "${values.pair}"; pass --refs`);
  const audio = values.audio ?? resolve('samples/eval/wav');
  const refs = values.refs ?? resolve(`samples/eval/refs.${pair.targetCode}.txt`);
  const latencies = parseLatencies(values.latency);
  const speed = positiveNumber(values.speed, '--speed', true);
  const timeoutMs = positiveNumber(values.timeout, '--timeout') * 1000;
  try {
    new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${values.url}`);
  }

  const items = await loadEvalItems(audio, refs);
  const report = await runEvaluation({
    baseUrl: values.url,
    languagePair: values.pair,
    latencies,
    speed,
    items,
    completionTimeoutMs: timeoutMs,
    log: values.quiet ? undefined : (line) => console.error(line),
  });
  console.log(formatReport(report));
  if (values.json) {
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`, 'utf8');
    if (!values.quiet) console.error(`wrote ${values.json}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const isUsage = error instanceof UsageError;
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? '').replace(/\. To specify a positional argument.*$/, '') : String(error);
    console.error(`eval: ${message}${isUsage ? ' (see --help)' : ''}`);
    process.exit(isUsage ? 2 : 1);
  },
);
