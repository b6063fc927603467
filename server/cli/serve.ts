// `psd2-oauth serve`: the server, configured by environment variables, until SIGTERM or SIGINT.
import process from 'node:process';
import { loadConfig } from '../config.ts';
import { startServer } from '../main.ts';
import type { Command } from './command.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'start the server (configured by environment variables, see the README)',
  action: {
    summary: 'start the server (configured by environment variables, see the README)',
    description:
      'Every setting is an environment variable (PORT, HOST, ISSUER, MODE, DATA_DIR, DATABASE_URL, TLS_CERT,\nTLS_KEY, TRUST_ANCHORS, ...: the README lists them all). SIGTERM or SIGINT stop it gracefully. A start-up\nfailure is one line naming the setting, exit code 78 (configuration) or 74 (a file).',
    json: false,
    async run(ctx) {
      const config = loadConfig(ctx.io.env);
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
    },
  },
};
