// `psd2-oauth resource-server add|list|disable`: credentials for the bank's resource servers to call
// /introspect with HTTP Basic. The secret is printed once and stored as a digest.
import { randomSecret, secretDigest } from '../protocol/secrets.ts';
import { type Command, iso, keyValues, table } from './command.ts';
import { withStores } from './stores.ts';
import { DataError } from './usage.ts';

export const resourceServerCommand: Command = {
  name: 'resource-server',
  summary: 'credentials for the bank’s resource servers to call /introspect: add, list, disable',
  description: 'Works on the database only (DATA_DIR or DATABASE_URL), also while the server runs.',
  actions: {
    add: {
      summary: 'new credentials; the client_secret is printed once (stored as a digest)',
      synopsis: 'NAME',
      positionals: ['NAME'],
      async run(ctx) {
        const name = (ctx.positionals[0] as string).trim();
        if (!name) throw new DataError('NAME is empty');
        return withStores(ctx, async (stores) => {
          const clientId = `rs_${randomSecret(12)}`;
          const secret = randomSecret(32);
          await stores.resourceServers.insert({
            clientId,
            name,
            secretDigest: await secretDigest(secret),
            createdAt: Date.now(),
            disabledAt: null,
          });
          const out = { client_id: clientId, client_secret: secret, name };
          ctx.print(out, () => `${keyValues(out)}(the secret is shown once)\n`);
          return 0;
        });
      },
    },
    list: {
      summary: 'list the resource servers (never their secrets)',
      async run(ctx) {
        return withStores(ctx, async (stores) => {
          const rows = (await stores.resourceServers.list()).map((r) => ({
            client_id: r.clientId,
            name: r.name,
            created_at: iso(r.createdAt),
            disabled_at: iso(r.disabledAt),
          }));
          ctx.print(rows, () => table(rows, ['client_id', 'name', 'created_at', 'disabled_at']));
          return 0;
        });
      },
    },
    disable: {
      summary: 'refuse its credentials from the next request on',
      synopsis: 'CLIENT_ID',
      positionals: ['CLIENT_ID'],
      async run(ctx) {
        const clientId = ctx.positionals[0] as string;
        return withStores(ctx, async (stores) => {
          if (!(await stores.resourceServers.disable(clientId, Date.now()))) {
            throw new DataError(`no enabled resource server ${clientId}`);
          }
          const out = { client_id: clientId, disabled: true };
          ctx.print(out, () => keyValues(out));
          return 0;
        });
      },
    },
  },
};
