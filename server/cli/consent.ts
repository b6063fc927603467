// `psd2-oauth consent list [--psu ID] [--client ID] | revoke CONSENT_ID`: the bank's view of the
// consents PSUs gave, and their withdrawal (a PSU's request at the branch, fraud, a TPP's licence
// withdrawn). Revoking a consent revokes its grants: refresh fails and introspection says inactive.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { openSqlite } from '../../db/sqlite.ts';
import { createSqliteStores } from '../../db/stores.ts';
import { loadConfig } from '../config.ts';
import { UsageError } from './usage.ts';

const USAGE = `psd2-oauth consent list [--psu PSU_ID] [--client CLIENT_ID]
psd2-oauth consent revoke CONSENT_ID`;

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

export const consentCommand = {
  summary: 'list the consents PSUs gave, revoke one (its tokens stop working)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [action, ...rest] = args;
    if (action !== 'list' && action !== 'revoke') throw new UsageError(`expected list or revoke\n${USAGE}`);
    const { values, positionals } = parseArgs({
      args: rest,
      options: { psu: { type: 'string' }, client: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (action === 'revoke' && positionals.length !== 1) throw new UsageError(`revoke needs one CONSENT_ID\n${USAGE}`);
    const config = loadConfig(process.env);
    const db = openSqlite(config.databasePath);
    try {
      const consents = createSqliteStores(db).authorization.consents;
      if (action === 'list') {
        const rows = await consents.list({ psuId: values.psu, clientId: values.client });
        const out = rows.map((c) => ({
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
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return 0;
      }
      const consentId = positionals[0] as string;
      if (!(await consents.revoke(consentId, Date.now(), 'bank'))) {
        process.stderr.write(`psd2-oauth consent: no active consent ${consentId}\n`);
        return 1;
      }
      process.stdout.write(`${JSON.stringify({ consent_id: consentId, revoked: true })}\n`);
      return 0;
    } finally {
      db.$client.close();
    }
  },
};
