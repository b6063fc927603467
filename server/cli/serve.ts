import process from 'node:process';
import { loadConfig } from '../config.ts';
import { startServer } from '../main.ts';

export const serveCommand = {
  summary: 'start the HTTPS server (configured by environment variables, see README)',
  async run(): Promise<number> {
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
  },
};
