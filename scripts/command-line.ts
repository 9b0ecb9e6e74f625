/**
 * The command-line contract every script follows: `--help` prints the usage and exits 0; an
 * unknown flag, a missing value or a bad value prints one line naming it and exits 2, never a
 * stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Prints `<script>: <message> (see --help)` on stderr and exits 2. */
export function usageError(script: string, message: string): never {
  console.error(`${script}: ${message} (see --help)`);
  process.exit(2);
}

/**
 * Parses `process.argv` strictly with `options` (plus `--help`). Prints `usage` and exits 0 on
 * `--help`; exits 2 with one line on any parsing error.
 */
export function parseCommandLine<T extends Options>(script: string, usage: string, options: T, allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: { ...options, help: { type: 'boolean', default: false } }, strict: true, allowPositionals });
  } catch (error) {
    usageError(script, (error as Error).message.split('\n')[0]?.replace(/\. To specify a positional argument.*$/, '') ?? 'bad arguments');
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    console.log(usage);
    process.exit(0);
  }
  return parsed as { values: ReturnType<typeof parseArgs<{ options: T }>>['values']; positionals: string[] };
}
