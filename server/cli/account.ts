// `psd2-oauth account add|list`: the payment accounts of the database's PSUs, offered on the
// consent page. A bank with its own core-banking lookup does not need them.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { type Config, loadConfig } from '../config.ts';
import type { AccountType } from '../protocol/bank.ts';
import { type CliIo, requirePsu, withStores } from './psu.ts';
import { UsageError } from './usage.ts';

const USAGE = `psd2-oauth account add --username ID --iban FR76... --name "Compte Chèques" [--type current|savings|card] [--currency EUR]
psd2-oauth account list [--username ID] [--json]`;
const TYPES: AccountType[] = ['current', 'savings', 'card'];

export async function accountCommandWith(args: string[], config: Config, io: Pick<CliIo, 'out'>): Promise<number> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      username: { type: 'string' },
      iban: { type: 'string' },
      name: { type: 'string' },
      type: { type: 'string', default: 'current' },
      currency: { type: 'string', default: 'EUR' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  return withStores(config, async (stores) => {
    switch (action) {
      case 'add': {
        const psu = await requirePsu(stores, values.username);
        const iban = (values.iban ?? '').replace(/\s+/g, '').toUpperCase();
        if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) throw new UsageError(`--iban must be an IBAN\n${USAGE}`);
        if (!values.name?.trim()) throw new UsageError(`--name is required\n${USAGE}`);
        if (!TYPES.includes(values.type as AccountType)) throw new UsageError(`--type is one of ${TYPES.join(', ')}`);
        const currency = values.currency.toUpperCase();
        if (!/^[A-Z]{3}$/.test(currency)) throw new UsageError('--currency is an ISO 4217 code (EUR)');
        const accountId = globalThis.crypto.randomUUID();
        await stores.psus.addAccount({
          accountId,
          psuId: psu.psuId,
          iban,
          name: values.name.trim(),
          type: values.type as AccountType,
          currency,
          createdAt: Date.now(),
        });
        io.out(`account_id: ${accountId}\n`);
        return 0;
      }
      case 'list': {
        const psu = values.username ? await requirePsu(stores, values.username) : undefined;
        const list = await stores.psus.listAccounts(psu?.psuId);
        if (values.json) io.out(`${JSON.stringify(list, null, 2)}\n`);
        else
          for (const a of list) io.out(`${a.accountId}\t${a.psuId}\t${a.type}\t${a.iban}\t${a.currency}\t${a.name}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown action ${action ?? '(none)'}\n${USAGE}`);
    }
  });
}

export const accountCommand = {
  summary: 'manage the PSUs’ payment accounts: add, list',
  usage: USAGE,
  run: (args: string[]) => accountCommandWith(args, loadConfig(process.env), { out: (t) => process.stdout.write(t) }),
};
