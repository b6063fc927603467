#!/usr/bin/env node
// The psd2-oauth command. Each subcommand lives in server/cli/ and reads the same configuration
// (environment variables) as the server.
import process from 'node:process';
import { sandboxCertCommand, UsageError } from './cli/sandbox-cert.ts';
import { serveCommand } from './cli/serve.ts';
import { ConfigError } from './config.ts';

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  serve: serveCommand,
  'sandbox-cert': sandboxCertCommand,
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length)) + 2;
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `psd2-oauth: OAuth 2 authorization server for PSD2 APIs (STET)

Usage: psd2-oauth <command> [options]

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}show this help

Configuration comes from environment variables (PORT, HOST, ISSUER, MODE, DATA_DIR, DATABASE_URL,
TLS_CERT, TLS_KEY, TRUST_ANCHORS, TRUSTED_PROXIES, LOG_LEVEL, ...): see the README.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`psd2-oauth: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`psd2-oauth: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    if (
      err instanceof UsageError ||
      (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`psd2-oauth ${name}: ${err.message}\n`);
      return 64; // EX_USAGE
    }
    throw err;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
