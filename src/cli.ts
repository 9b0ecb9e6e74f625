/**
 * Command line of the server: `--help`, `--config FILE`, `--create-default --config FILE`, and one
 * flag per entry of the settings table. Parsing never throws: problems are collected so that the
 * start-up error can list all of them at once.
 */
import { envNameOf, settingsTable, type SettingSpec } from './config/settings-table.ts';

export type CliAction = 'serve' | 'help' | 'create-default';

export interface CommandLine {
  action: CliAction;
  /** --config FILE (also INFINISST_CONFIG), null when absent. */
  configPath: string | null;
  /** Raw flag values by setting, last occurrence wins. */
  flagValues: Map<SettingSpec, string>;
  problems: string[];
}

const specByFlag = new Map<string, SettingSpec>();
for (const spec of settingsTable) {
  specByFlag.set(spec.flag, spec);
  for (const alias of spec.flagAliases ?? []) specByFlag.set(alias, spec);
}

/** Parses process arguments (without node and script). Never throws. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const result: CommandLine = { action: 'serve', configPath: null, flagValues: new Map(), problems: [] };
  let wantsDefault = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') continue; // `npm start -- --port 1` may leave a separator behind
    if (!token.startsWith('--')) {
      result.problems.push(`unexpected argument "${token}" (options start with --; see --help)`);
      continue;
    }
    const eq = token.indexOf('=');
    const name = eq >= 0 ? token.slice(2, eq) : token.slice(2);
    const inlineValue = eq >= 0 ? token.slice(eq + 1) : undefined;
    const next = argv[i + 1];
    const takeValue = (): string | undefined => {
      if (inlineValue !== undefined) return inlineValue;
      if (next === undefined || next.startsWith('--')) return undefined;
      i++;
      return next;
    };
    if (name === 'help' || name === 'h') {
      result.action = 'help';
      continue;
    }
    if (name === 'create-default') {
      wantsDefault = true;
      continue;
    }
    if (name === 'config') {
      const value = takeValue();
      if (value === undefined || value === '') result.problems.push('--config needs a file path');
      else result.configPath = value;
      continue;
    }
    const spec = specByFlag.get(name);
    if (!spec) {
      result.problems.push(`unknown option --${name} (see --help)`);
      continue;
    }
    let value = takeValue();
    if (value === undefined && spec.kind === 'boolean') value = 'true';
    if (value === undefined) {
      result.problems.push(`--${name} needs a value`);
      continue;
    }
    result.flagValues.set(spec, value);
  }
  if (result.action !== 'help' && wantsDefault) {
    result.action = 'create-default';
    if (result.configPath === null) result.problems.push('--create-default needs --config FILE to say where to write');
  }
  return result;
}

/** The `--help` text, generated from the settings table. */
export function helpText(): string {
  const lines = [
    'infinisst-serve — simultaneous speech translation server compatible with the InfiniSST API',
    '',
    'Usage:',
    '  npm start -- [options]                       serve (default 0.0.0.0:8000)',
    '  npm start -- --create-default --config FILE  write the default configuration to FILE and exit',
    '',
    'Options (precedence: flags > environment > config file > defaults):',
    '  --help                       print this help',
    '  --config FILE                JSON configuration file (env INFINISST_CONFIG)',
    '  --create-default             with --config FILE: write the defaults there and exit',
  ];
  for (const spec of settingsTable) {
    const names = [spec.flag, ...(spec.flagAliases ?? [])].map((flag) => `--${flag}`).join(', ');
    const valueName = spec.kind === 'boolean' ? '[BOOL]' : spec.kind === 'list' ? 'A,B' : spec.kind === 'string' ? 'TEXT' : spec.kind === 'json' ? 'JSON' : 'N';
    const left = `  ${names} ${valueName}`;
    const envs = [...(spec.envAliases ?? []), envNameOf(spec.flag)].join(', ');
    lines.push(`${left.padEnd(31)}${spec.description}`, `${''.padEnd(31)}env: ${envs}`);
  }
  lines.push(
    '',
    'Environment only: CUDA_VISIBLE_DEVICES (with --execution-providers cuda,cpu and no explicit',
    'engine.devices: one device group per visible GPU).',
  );
  return lines.join('\n');
}
