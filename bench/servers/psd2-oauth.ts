// psd2-oauth as `psd2-oauth serve` runs it (same startServer, same configuration from the
// environment), plus the port sent to the benchmark over IPC and a clean exit on SIGTERM so that
// `--cpu-prof` can write its profile.
import process from 'node:process';
import { loadConfig } from '../../server/config.ts';
import { startServer } from '../../server/main.ts';

const server = await startServer(loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' }));
process.send?.({ port: server.port });
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
