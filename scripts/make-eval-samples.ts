/**
 * Regenerates the evaluation sample set in samples/eval/: short English sentences spoken by
 * espeak-ng, converted by sox to 16 kHz mono 16-bit WAV, with reference translations into the
 * four served target languages (one line per file, in file-name order).
 *
 *   npx tsx scripts/make-eval-samples.ts [--out samples/eval]
 *
 * Needs espeak-ng and sox on PATH (Debian: apt-get install espeak-ng sox). The generated files are
 * committed, so `npm run eval` does not need either tool.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseCommandLine } from './command-line.ts';

const run = promisify(execFile);

interface Sample {
  name: string;
  en: string;
  de: string;
  zh: string;
  it: string;
  es: string;
}

const SAMPLES: readonly Sample[] = [
  { name: '01-weather', en: 'The weather is nice today.', de: 'Das Wetter ist heute schön.', zh: '今天天气很好。', it: 'Oggi il tempo è bello.', es: 'Hoy hace buen tiempo.' },
  {
    name: '02-coffee',
    en: 'I would like a cup of coffee, please.',
    de: 'Ich hätte gern eine Tasse Kaffee, bitte.',
    zh: '请给我一杯咖啡。',
    it: 'Vorrei una tazza di caffè, per favore.',
    es: 'Quisiera una taza de café, por favor.',
  },
  {
    name: '03-train',
    en: "The train to Berlin leaves at eight o'clock.",
    de: 'Der Zug nach Berlin fährt um acht Uhr ab.',
    zh: '去柏林的火车八点出发。',
    it: 'Il treno per Berlino parte alle otto.',
    es: 'El tren a Berlín sale a las ocho.',
  },
  {
    name: '04-latency',
    en: 'Simultaneous translation must balance quality and latency.',
    de: 'Simultanübersetzung muss Qualität und Latenz in Einklang bringen.',
    zh: '同声传译必须在质量和延迟之间取得平衡。',
    it: 'La traduzione simultanea deve bilanciare qualità e latenza.',
    es: 'La traducción simultánea debe equilibrar calidad y latencia.',
  },
  { name: '05-thanks', en: 'Thank you for listening.', de: 'Vielen Dank fürs Zuhören.', zh: '谢谢收听。', it: "Grazie per l'ascolto.", es: 'Gracias por escuchar.' },
];

const LANGUAGES = ['de', 'zh', 'it', 'es'] as const;

const USAGE = `Writes the evaluation sample set: espeak-ng English speech as 16 kHz WAVs and references in German,
Chinese, Italian and Spanish.

Usage: npm run eval:samples -- [--out <folder>]   (default: samples/eval)`;

async function main(): Promise<void> {
  const { values } = parseCommandLine('eval:samples', USAGE, { out: { type: 'string', default: 'samples/eval' } });
  const out = resolve(values.out);
  const wavDir = join(out, 'wav');
  await mkdir(wavDir, { recursive: true });
  const scratch = await mkdtemp(join(tmpdir(), 'eval-samples-'));
  try {
    for (const sample of SAMPLES) {
      const raw = join(scratch, `${sample.name}.wav`);
      // Fixed voice, speed and pitch so that regenerating gives the same audio on one espeak-ng version.
      await run('espeak-ng', ['-v', 'en-us', '-s', '150', '-p', '50', '-w', raw, '--', sample.en]);
      // A little silence after the speech, as a speaker pausing, so the tail chunk has room.
      await run('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', join(wavDir, `${sample.name}.wav`), 'pad', '0', '0.3']);
      console.log(`${sample.name}.wav: ${sample.en}`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await writeFile(join(out, 'source.en.txt'), SAMPLES.map((s) => s.en).join('\n') + '\n', 'utf8');
  for (const language of LANGUAGES) {
    await writeFile(join(out, `refs.${language}.txt`), SAMPLES.map((s) => s[language]).join('\n') + '\n', 'utf8');
  }
  console.log(`wrote ${SAMPLES.length} files and references to ${out}`);
}

main().catch((error: unknown) => {
  console.error(`make-eval-samples: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
