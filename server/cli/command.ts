// The conventions every `psd2-oauth` command follows, in one place (docs/ARCHITECTURE.md, "The
// command line"): a command is a family of actions (`psu add`, `psu list`) or a single action
// (`serve`); options are parsed by node:util parseArgs (strict: an unknown option is a usage error);
// `--help` anywhere prints the help of what it follows and does nothing else; `--json` prints one
// JSON document with snake_case keys and ISO 8601 instants, otherwise a table or `key: value` lines;
// errors are one line on standard error with a sysexits code (usage.ts).
import process from 'node:process';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { loadStorageConfig, type StorageConfig } from '../config.ts';
import { EXIT, UsageError } from './usage.ts';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Standard input, for secrets piped in (`--password-stdin`). */
  readStdin(): Promise<string>;
  env: Record<string, string | undefined>;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  async readStdin() {
    const chunks: Uint8Array[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Uint8Array);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
};

export type OptionValues = Record<string, string | boolean | undefined>;

export interface ActionContext {
  values: OptionValues;
  positionals: string[];
  io: CliIo;
  /** `--json` was given. */
  json: boolean;
  /** DATA_DIR, DATABASE_URL, MODE, ISSUER only: read when first asked, after `--help` was ruled out. */
  storage(): StorageConfig;
  /** Prints `data` as JSON with `--json`, else what `human` renders. */
  print(data: unknown, human: () => string): void;
}

export interface Action {
  summary: string;
  /** The arguments after the action's name, for the usage line (`--username ID [--json]`). */
  synopsis?: string;
  /** More lines for `--help`: what it changes, what it prints. */
  description?: string;
  options?: ParseArgsOptionsConfig;
  /** Names of the positional arguments; a trailing `?` marks an optional one. */
  positionals?: string[];
  /** Offers `--json` (default true). */
  json?: boolean;
  run(ctx: ActionContext): Promise<number | undefined> | number | undefined;
}

export interface Command {
  name: string;
  summary: string;
  description?: string;
  /** A family of actions (`psu add`) ... */
  actions?: Record<string, Action>;
  /** ... or one action run by the command's own name (`serve`, `backup FILE`). */
  action?: Action;
}

const HELP_FLAGS = new Set(['--help', '-h']);

/** `--help` or `-h` before a `--`: the help is printed and nothing else runs. */
export function asksForHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (HELP_FLAGS.has(arg)) return true;
  }
  return false;
}

function usageLine(command: Command, name: string | undefined, action: Action): string {
  const json = action.json === false ? '' : ' [--json]';
  const words = ['psd2-oauth', command.name, name, action.synopsis].filter(Boolean).join(' ');
  return `${words}${json}`;
}

export function commandHelp(command: Command): string {
  if (command.action) return actionHelp(command, undefined, command.action);
  const actions = Object.entries(command.actions ?? {});
  const width = Math.max(...actions.map(([name]) => name.length)) + 2;
  return [
    `psd2-oauth ${command.name}: ${command.summary}`,
    ...(command.description ? ['', command.description] : []),
    '',
    'Usage:',
    ...actions.map(([name, action]) => `  ${usageLine(command, name, action)}`),
    '',
    'Actions:',
    ...actions.map(([name, action]) => `  ${name.padEnd(width)}${action.summary}`),
    '',
    `\`psd2-oauth ${command.name} ACTION --help\` describes one action.`,
    '',
  ].join('\n');
}

export function actionHelp(command: Command, name: string | undefined, action: Action): string {
  return [
    `${['psd2-oauth', command.name, name].filter(Boolean).join(' ')}: ${action.summary}`,
    '',
    `Usage: ${usageLine(command, name, action)}`,
    ...(action.description ? ['', action.description] : []),
    '',
  ].join('\n');
}

/** Runs `args` (after the command's name) against `command`; returns the exit code. */
export async function runCommand(
  command: Command,
  args: string[],
  io: CliIo,
  storage?: StorageConfig,
): Promise<number> {
  let name: string | undefined;
  let action = command.action;
  let rest = args;
  if (!action) {
    const [first, ...others] = args;
    if (first === undefined || HELP_FLAGS.has(first) || first === 'help') {
      io.out(commandHelp(command));
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    action = command.actions?.[first];
    if (!action) {
      throw new UsageError(
        `unknown action "${first}": one of ${Object.keys(command.actions ?? {}).join(', ')} (see --help)`,
      );
    }
    name = first;
    rest = others;
  }
  if (asksForHelp(rest)) {
    io.out(actionHelp(command, name, action));
    return EXIT.ok;
  }
  const offersJson = action.json !== false;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { ...action.options, ...(offersJson ? { json: { type: 'boolean', default: false } } : {}) },
    allowPositionals: true,
    strict: true,
  });
  const expected = action.positionals ?? [];
  const required = expected.filter((p) => !p.endsWith('?')).length;
  if (positionals.length < required || positionals.length > expected.length) {
    const what = expected.length === 0 ? 'no argument' : expected.map((p) => p.replace(/\?$/, '')).join(' ');
    throw new UsageError(`expects ${what}: ${usageLine(command, name, action)}`);
  }
  let loaded: StorageConfig | undefined = storage;
  const json = offersJson && values.json === true;
  const ctx: ActionContext = {
    values: values as OptionValues,
    positionals,
    io,
    json,
    storage: () => {
      loaded ??= loadStorageConfig(io.env);
      return loaded;
    },
    print(data, human) {
      io.out(json ? `${JSON.stringify(data, null, 2)}\n` : human());
    },
  };
  return (await action.run(ctx)) ?? EXIT.ok;
}

/** A string option, trimmed; undefined when absent or blank. */
export function option(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export function requireOption(values: OptionValues, name: string, what: string): string {
  const value = option(values, name);
  if (value === undefined) throw new UsageError(`--${name} ${what} is required`);
  return value;
}

/** An instant as the JSON output writes it. */
export const iso = (at: number | null | undefined): string | null =>
  at === null || at === undefined ? null : new Date(at).toISOString();

/**
 * A table for people: a header of the keys in capitals, one line per row, columns padded. Absent
 * values print as `-`. An empty list prints the header and `(none)`.
 */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (value: unknown) =>
    value === null || value === undefined || value === ''
      ? '-'
      : Array.isArray(value)
        ? value.join(',')
        : String(value).replace(/[\r\n\t]+/g, ' ');
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((row) => columns.map((c) => cell(row[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const lines = cells.map((line) => line.map((v, i) => (i === line.length - 1 ? v : v.padEnd(widths[i]!))).join('  '));
  if (rows.length === 0) lines.push('(none)');
  return `${lines.join('\n')}\n`;
}

/** One record as `key: value` lines. */
export function keyValues(record: Record<string, unknown>): string {
  return Object.entries(record)
    .map(([k, v]) => `${k}: ${v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v)}`)
    .join('\n')
    .concat('\n');
}
