#!/usr/bin/env node
// The psd2-oauth command. Each subcommand reads the same configuration as the server.
import process from 'node:process';
import { ConfigError, loadConfig } from './config.ts';
import { startServer } from './main.ts';

const HELP = `psd2-oauth: OAuth 2 authorization server for PSD2 APIs (STET)

Usage: psd2-oauth <command> [options]

Commands:
  serve            start the HTTPS server (configured by environment variables, see README)
  help, --help     show this help

Environment: PORT, HOST, ISSUER, MODE, DATA_DIR, DATABASE_URL, TLS_CERT, TLS_KEY,
TRUST_ANCHORS, TRUSTED_PROXIES, LOG_LEVEL, ACCESS_TOKEN_SIGNING_ALG.
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  serve: serve,
  help: async () => {
    process.stdout.write(HELP);
    return 0;
  },
};

async function serve(): Promise<number> {
  const config = loadConfig(process.env);
  const server = await startServer(config);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      server.logger.info({ signal }, 'shutting down');
      void server.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  const command = name === '--help' || name === '-h' ? commands.help : commands[name];
  if (!command) {
    process.stderr.write(`psd2-oauth: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`psd2-oauth: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
