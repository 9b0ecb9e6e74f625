/**
 * The command-line contract every script follows: `--help` prints the usage and exits 0; an
 * unknown flag, a missing value or a bad value prints one line naming it and exits 2, never a
 * stack trace. And one vocabulary: the same idea has the same flag in every script (`--url`,
 * `--pair`, `--latency`, `--audio`, `--speed`, `--timeout`, `--json`); the names some scripts
 * used before are still accepted.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8000';
export const DEFAULT_LANGUAGE_PAIR = 'English -> German';

/** Old flag → the shared name it now goes by (same meaning and unit). */
export const FLAG_ALIASES: Readonly<Record<string, string>> = {
  server: 'url',
  'language-pair': 'pair',
  multiplier: 'latency',
  wav: 'audio',
  'drain-timeout-seconds': 'timeout',
};

/** The closing lines of every script's --help: the shared names and the old ones. */
export const SHARED_FLAGS_NOTE = `Flags mean the same in every script: --url, --pair, --latency, --audio, --speed, --timeout (seconds),
--json FILE. Old names still work: ${Object.entries(FLAG_ALIASES).map(([alias, name]) => `--${alias} (= --${name})`).join(', ')}.`;

/** Prints `<script>: <message> (see --help)` on stderr and exits 2. */
export function usageError(script: string, message: string): never {
  console.error(`${script}: ${message} (see --help)`);
  process.exit(2);
}

/**
 * Rewrites old flag names to the shared ones a script defines (`--wav=x` → `--audio=x`). Throws
 * when both names of one flag are given: which one was meant is not ours to guess.
 */
export function applyFlagAliases(args: readonly string[], options: Options): string[] {
  const given = new Map<string, string>();
  const rewritten = args.map((arg) => {
    const match = /^--([^=]+)(=.*)?$/.exec(arg);
    if (!match || arg === '--') return arg;
    const [, name = '', value = ''] = match;
    const canonical = FLAG_ALIASES[name];
    const target = canonical !== undefined && !(name in options) && canonical in options ? canonical : name;
    const earlier = given.get(target);
    if (earlier !== undefined && earlier !== name) {
      throw new Error(`--${earlier} and --${name} are the same flag; give one`);
    }
    given.set(target, name);
    return `--${target}${value}`;
  });
  return rewritten;
}

/**
 * Parses `process.argv` strictly with `options` (plus `--help`/`-h`), after the old flag names are
 * rewritten. Prints `usage` and exits 0 on `--help`; exits 2 with one line on any parsing error.
 */
export function parseCommandLine<T extends Options>(script: string, usage: string, options: T, allowPositionals = false) {
  let parsed;
  try {
    const args = applyFlagAliases(process.argv.slice(2).filter((arg, index) => index > 0 || arg !== '--'), options);
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h', default: false } }, strict: true, allowPositionals });
  } catch (error) {
    usageError(script, (error as Error).message.split('\n')[0]?.replace(/\. To specify a positional argument.*$/, '') ?? 'bad arguments');
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    console.log(usage);
    process.exit(0);
  }
  return parsed as { values: ReturnType<typeof parseArgs<{ options: T }>>['values']; positionals: string[] };
}
