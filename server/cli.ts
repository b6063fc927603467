// The psd2-oauth command, started by server/bin.ts. Each command lives in server/cli/ and follows the conventions of
// server/cli/command.ts (help, --json, tables, exit codes); configuration comes from environment
// variables, as for the server.
import { type CliIo, type Command, processIo, runCommand } from './cli/command.ts';
import { ConfigError } from './config.ts';
import { EXIT, OperatorError } from './operator-error.ts';
import { buildInfo, inBinary } from './resources.ts';

// Loaded only when run: each command pulls in its own dependencies (the server, the PKI, the
// database), and a command line should not pay for all of them.
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: 'start the server (configured by environment variables, see the README)',
    load: async () => (await import('./cli/serve.ts')).serveCommand,
  },
  'sandbox-cert': {
    summary: 'issue a test QWAC (key, certificate, chain) signed by the sandbox CA',
    load: async () => (await import('./cli/sandbox-cert.ts')).sandboxCertCommand,
  },
  'inspect-cert': {
    summary: 'what the server sees in a TPP certificate (PEM or DER) and which check refuses it',
    load: async () => (await import('./cli/inspect-cert.ts')).inspectCertCommand,
  },
  psu: {
    summary: 'PSUs: add, list, show, disable, enable, reset-totp, remove, permissions',
    load: async () => (await import('./cli/psu.ts')).psuCommand,
  },
  account: {
    summary: 'the PSUs’ payment accounts: add, list, remove',
    load: async () => (await import('./cli/account.ts')).accountCommand,
  },
  consent: {
    summary: 'the consents PSUs gave: list, revoke',
    load: async () => (await import('./cli/consent.ts')).consentCommand,
  },
  'back-office': {
    summary: 'credentials of the bank’s back office for the permission API',
    load: async () => (await import('./cli/back-office.ts')).backOfficeCommand,
  },
  'resource-server': {
    summary: 'credentials for resource servers to call /introspect: add, list, disable',
    load: async () => (await import('./cli/resource-server.ts')).resourceServerCommand,
  },
  client: {
    summary: 'the TPPs’ OAuth clients: list, show, suspend, resume, delete',
    load: async () => (await import('./cli/client.ts')).clientCommand,
  },
  keys: {
    summary: 'signing keys: list, rotate (a new active key), retire KID (gone from /jwks)',
    load: async () => (await import('./cli/keys.ts')).keysCommand,
  },
  kek: {
    summary: 'the key-encryption key: generate FILE, rotate --new-key-file FILE, status',
    load: async () => (await import('./cli/kek.ts')).kekCommand,
  },
  backup: {
    summary: 'copy the SQLite database to FILE while the server runs',
    load: async () => (await import('./cli/backup.ts')).backupCommand,
  },
};

/** Every command, loaded: for `help` and for the test that runs `--help` on each. */
export async function allCommands(): Promise<Command[]> {
  return Promise.all(Object.values(commands).map((c) => c.load()));
}

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length)) + 2;
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `psd2-oauth: OAuth 2 authorization server for PSD2 APIs (STET)

Usage: psd2-oauth <command> [action] [options]
       psd2-oauth <command> [action] --help

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}show this help, or a command's: help <command> [action]
  ${'--version'.padEnd(width)}print the version and the commit it was built from

Options of every command: --help (prints the help, does nothing else); --json (one JSON document,
snake_case keys, ISO 8601 instants) on every command that prints a result, a table otherwise.

Configuration comes from environment variables (PORT, HOST, ISSUER, MODE, DATA_DIR, DATABASE_URL,
TLS_CERT, TLS_KEY, TRUST_ANCHORS, ...: see the README). Commands that only work on the database read
DATA_DIR or DATABASE_URL (and MODE, ISSUER) and nothing else.

Exit codes (sysexits): 0 done, 64 usage (unknown option, missing argument), 65 data (invalid or
unknown input: an IBAN, a client id), 70 internal error, 74 I/O (database or file cannot be read or
written), 78 configuration (an environment variable is wrong).
`;
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name = 'help', ...rest] = argv;
  if (name === '--version') {
    const { version, commit } = buildInfo();
    io.out(`psd2-oauth ${version} (commit ${commit}${inBinary ? ', single binary' : ''})\n`);
    return EXIT.ok;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    if (name === 'help' && rest[0] && commands[rest[0]]) {
      return main([rest[0], ...rest.slice(1), '--help'], io);
    }
    io.out(help());
    return EXIT.ok;
  }
  const entry = commands[name];
  if (!entry) {
    io.err(`psd2-oauth: unknown command "${name}" (psd2-oauth --help lists them)\n`);
    return EXIT.usage;
  }
  const command = await entry.load();
  try {
    return await runCommand(command, rest, io);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`psd2-oauth: ${err.message}\n`);
      return EXIT.config;
    }
    if (err instanceof OperatorError) {
      io.err(`psd2-oauth ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`psd2-oauth ${name}: ${err.message} (see psd2-oauth ${name} --help)\n`);
      return EXIT.usage;
    }
    io.err(`psd2-oauth ${name}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.software;
  }
}
