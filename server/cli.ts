#!/usr/bin/env node
// The psd2-oauth command. Each subcommand lives in server/cli/ and reads the same configuration
// (environment variables) as the server.
import process from 'node:process';
import { UsageError } from './cli/usage.ts';
import { ConfigError } from './config.ts';

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

// Loaded only when run: each command pulls in its own dependencies (the server, the PKI, the
// database), and a command line should not pay for all of them.
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: 'start the HTTPS server (configured by environment variables, see README)',
    load: async () => (await import('./cli/serve.ts')).serveCommand,
  },
  'sandbox-cert': {
    summary: 'issue a test QWAC (key, certificate, chain) signed by the sandbox CA',
    load: async () => (await import('./cli/sandbox-cert.ts')).sandboxCertCommand,
  },
  psu: {
    summary: 'manage PSUs: add, list, disable, enable, reset-totp (prints the TOTP enrolment once)',
    load: async () => (await import('./cli/psu.ts')).psuCommand,
  },
  account: {
    summary: 'manage the PSUs’ payment accounts: add, list',
    load: async () => (await import('./cli/account.ts')).accountCommand,
  },
  consent: {
    summary: 'list the consents PSUs gave, revoke one (its tokens stop working)',
    load: async () => (await import('./cli/consent.ts')).consentCommand,
  },
  'resource-server': {
    summary: 'credentials for resource servers to call /introspect (add NAME, list, disable CLIENT_ID)',
    load: async () => (await import('./cli/resource-server.ts')).resourceServerCommand,
  },
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
    return await (await command.load()).run(rest);
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
