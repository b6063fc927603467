// `psd2-oauth account add|list|remove`: the payment accounts of the database's PSUs, offered on the
// consent page. A bank with its own core-banking lookup does not need them.
import type { StorageConfig } from '../config.ts';
import type { AccountType } from '../protocol/bank.ts';
import { parseIban } from '../protocol/iban.ts';
import { type CliIo, type Command, keyValues, option, processIo, requireOption, runCommand, table } from './command.ts';
import { requirePsu } from './psu.ts';
import { withStores } from './stores.ts';
import { DataError, UsageError } from './usage.ts';

const TYPES: AccountType[] = ['current', 'savings', 'card'];

export const accountCommand: Command = {
  name: 'account',
  summary: 'the PSUs’ payment accounts: add, list, remove',
  description: 'Works on the database only (DATA_DIR or DATABASE_URL), also while the server runs.',
  actions: {
    add: {
      summary: 'give a PSU an account (the IBAN is checked: country length and mod-97 check digits)',
      synopsis: '--username ID --iban FR76... --name "Compte Chèques" [--type current|savings|card] [--currency EUR]',
      options: {
        username: { type: 'string' },
        iban: { type: 'string' },
        name: { type: 'string' },
        type: { type: 'string', default: 'current' },
        currency: { type: 'string', default: 'EUR' },
      },
      async run(ctx) {
        const username = requireOption(ctx.values, 'username', 'ID');
        const iban = parseIban(requireOption(ctx.values, 'iban', 'IBAN'));
        if (!iban.ok) throw new DataError(`--iban: ${iban.reason}`);
        const name = requireOption(ctx.values, 'name', '"Account name"');
        const type = String(ctx.values.type) as AccountType;
        if (!TYPES.includes(type)) throw new UsageError(`--type is one of ${TYPES.join(', ')}`);
        const currency = String(ctx.values.currency).toUpperCase();
        if (!/^[A-Z]{3}$/.test(currency)) throw new DataError('--currency is an ISO 4217 code (EUR)');
        return withStores(ctx, async (stores) => {
          const psu = await requirePsu(stores, username);
          const accountId = globalThis.crypto.randomUUID();
          await stores.authorization.psus.addAccount({
            accountId,
            psuId: psu.psuId,
            iban: iban.iban,
            name,
            type,
            currency,
            createdAt: Date.now(),
          });
          const out = { account_id: accountId, psu_id: psu.psuId, iban: iban.iban, name, type, currency };
          ctx.print(out, () => keyValues(out));
          return 0;
        });
      },
    },
    list: {
      summary: 'list the accounts, of every PSU or of one',
      synopsis: '[--username ID]',
      options: { username: { type: 'string' } },
      async run(ctx) {
        const username = option(ctx.values, 'username');
        return withStores(ctx, async (stores) => {
          const psu = username ? await requirePsu(stores, username) : undefined;
          const psus = new Map((await stores.authorization.psus.list()).map((p) => [p.psuId, p.username]));
          const rows = (await stores.authorization.psus.listAccounts(psu?.psuId)).map((a) => ({
            account_id: a.accountId,
            psu_id: a.psuId,
            username: psus.get(a.psuId) ?? null,
            iban: a.iban,
            name: a.name,
            type: a.type,
            currency: a.currency,
          }));
          ctx.print(rows, () => table(rows, ['username', 'iban', 'type', 'currency', 'name', 'account_id']));
          return 0;
        });
      },
    },
    remove: {
      summary: 'delete an account; the active consents that name it are withdrawn and their tokens stop',
      synopsis: 'ACCOUNT_ID',
      positionals: ['ACCOUNT_ID'],
      async run(ctx) {
        const accountId = ctx.positionals[0] as string;
        return withStores(ctx, async (stores) => {
          const removed = await stores.authorization.psus.removeAccount(accountId, Date.now());
          if (!removed) throw new DataError(`no account ${accountId}`);
          const out = { account_id: accountId, removed: true, consents_revoked: removed.consentsRevoked };
          ctx.print(out, () => keyValues(out));
          return 0;
        });
      },
    },
  },
};

/** Runs `account …` on a given database (tests, embedding); `io` defaults to the process's. */
export function accountCommandWith(
  args: string[],
  storage: StorageConfig,
  io: Partial<CliIo> & Pick<CliIo, 'out'>,
): Promise<number> {
  return runCommand(accountCommand, args, { ...processIo, ...io }, storage);
}
