// `psd2-oauth consent list|revoke`: the bank's view of the consents PSUs gave, and their withdrawal
// (a PSU's request at the branch, fraud, a TPP's licence withdrawn). Revoking a consent revokes its
// grants: refresh fails and introspection says inactive.
import { type Command, iso, keyValues, option, table } from './command.ts';
import { withStores } from './stores.ts';
import { DataError } from './usage.ts';

export const consentCommand: Command = {
  name: 'consent',
  summary: 'the consents PSUs gave: list, revoke (its tokens stop working at once)',
  description: 'Works on the database only (DATA_DIR or DATABASE_URL), also while the server runs.',
  actions: {
    list: {
      summary: 'list consents, newest first, of one PSU and/or one client',
      synopsis: '[--psu PSU_ID] [--client CLIENT_ID]',
      options: { psu: { type: 'string' }, client: { type: 'string' } },
      async run(ctx) {
        return withStores(ctx, async (stores) => {
          const list = await stores.authorization.consents.list({
            psuId: option(ctx.values, 'psu'),
            clientId: option(ctx.values, 'client'),
          });
          const rows = list.map((c) => ({
            consent_id: c.consentId,
            client_id: c.clientId,
            psu_id: c.psuId,
            scope: c.scope,
            account_ids: c.accountIds,
            created_at: iso(c.createdAt),
            expires_at: iso(c.expiresAt),
            revoked_at: iso(c.revokedAt),
            revoked_by: c.revokedBy,
          }));
          ctx.print(rows, () =>
            table(rows, ['consent_id', 'client_id', 'scope', 'created_at', 'expires_at', 'revoked_at', 'psu_id']),
          );
          return 0;
        });
      },
    },
    revoke: {
      summary: 'withdraw a consent (by the bank): its refresh and access tokens stop at once',
      synopsis: 'CONSENT_ID',
      positionals: ['CONSENT_ID'],
      async run(ctx) {
        const consentId = ctx.positionals[0] as string;
        return withStores(ctx, async (stores) => {
          if (!(await stores.authorization.consents.revoke(consentId, Date.now(), 'bank'))) {
            throw new DataError(`no active consent ${consentId}`);
          }
          const out = { consent_id: consentId, revoked: true };
          ctx.print(out, () => keyValues(out));
          return 0;
        });
      },
    },
  },
};
