// `psd2-oauth resource-server add NAME | list | disable CLIENT_ID`: credentials for the bank's
// resource servers to call /introspect with HTTP Basic. The secret is printed once and stored as a
// digest; the command works on the database file directly, also while the server runs (WAL).
import process from 'node:process';
import { openSqlite } from '../../db/sqlite.ts';
import { createSqliteStores } from '../../db/stores.ts';
import { loadConfig } from '../config.ts';
import { randomSecret, secretDigest } from '../protocol/secrets.ts';
import { UsageError } from './usage.ts';

const USAGE = `psd2-oauth resource-server add NAME
psd2-oauth resource-server list
psd2-oauth resource-server disable CLIENT_ID`;

export const resourceServerCommand = {
  summary: 'credentials for resource servers to call /introspect (add NAME, list, disable CLIENT_ID)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [action, ...rest] = args;
    if (action !== 'add' && action !== 'list' && action !== 'disable') {
      throw new UsageError(`expected add, list or disable\n${USAGE}`);
    }
    const argument = rest.join(' ').trim();
    if (action !== 'list' && !argument) throw new UsageError(`${action} needs an argument\n${USAGE}`);
    const config = loadConfig(process.env);
    const db = openSqlite(config.databasePath);
    try {
      const store = createSqliteStores(db).resourceServers;
      if (action === 'add') {
        const clientId = `rs_${randomSecret(12)}`;
        const secret = randomSecret(32);
        await store.insert({
          clientId,
          name: argument,
          secretDigest: await secretDigest(secret),
          createdAt: Date.now(),
          disabledAt: null,
        });
        process.stdout.write(`${JSON.stringify({ client_id: clientId, client_secret: secret })}\n`);
        return 0;
      }
      if (action === 'list') {
        const rows = (await store.list()).map((r) => ({
          client_id: r.clientId,
          name: r.name,
          created_at: new Date(r.createdAt).toISOString(),
          disabled_at: r.disabledAt === null ? null : new Date(r.disabledAt).toISOString(),
        }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return 0;
      }
      if (!(await store.disable(argument, Date.now()))) {
        process.stderr.write(`psd2-oauth resource-server: no enabled resource server ${argument}\n`);
        return 1;
      }
      process.stdout.write(`${JSON.stringify({ client_id: argument, disabled: true })}\n`);
      return 0;
    } finally {
      db.$client.close();
    }
  },
};
