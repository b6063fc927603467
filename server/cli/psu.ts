// `psd2-oauth psu add|list|disable|enable|reset-totp`: the PSUs of the default authenticator, in the
// server's database. A bank with its own identity provider does not need them.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { openSqlite } from '../../db/sqlite.ts';
import { createSqliteStores } from '../../db/stores.ts';
import { type Config, loadConfig } from '../config.ts';
import type { AuthorizationStores, PsuRecord } from '../protocol/psu/ports.ts';
import { hashPassword, newTotpSecret, totpFor } from '../protocol/psu-authentication.ts';
import { randomSecret } from '../protocol/secrets.ts';
import { UsageError } from './usage.ts';

const USAGE = `psd2-oauth psu add --username ID --name "Display Name" [--password-stdin]
psd2-oauth psu list [--json]
psd2-oauth psu disable|enable --username ID
psd2-oauth psu reset-totp --username ID`;

export interface CliIo {
  out(text: string): void;
  /** The password piped in with --password-stdin. */
  readStdin(): Promise<string>;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  async readStdin() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** Opens the configured database for one command and closes it after. */
export async function withStores<T>(config: Config, run: (stores: AuthorizationStores) => Promise<T>): Promise<T> {
  const db = openSqlite(config.databasePath);
  try {
    return await run(createSqliteStores(db).authorization);
  } finally {
    db.$client.close();
  }
}

export async function requirePsu(stores: AuthorizationStores, username: string | undefined): Promise<PsuRecord> {
  if (!username) throw new UsageError(`--username is required\n${USAGE}`);
  const psu = await stores.psus.findByUsername(username);
  if (!psu) throw new UsageError(`no PSU with the username ${username}`);
  return psu;
}

function enrolment(psu: Pick<PsuRecord, 'username'>, secret: string, issuer: string): string {
  const uri = totpFor(secret, psu.username, issuer).toString();
  return `totp_secret: ${secret}\ntotp_uri: ${uri}\n(shown once: enrol it in the PSU's authenticator app now)\n`;
}

export async function psuCommandWith(args: string[], config: Config, io: CliIo): Promise<number> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      username: { type: 'string' },
      name: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const issuerLabel = config.issuer ? new URL(config.issuer).host : 'psd2-oauth';
  return withStores(config, async (stores) => {
    switch (action) {
      case 'add': {
        const username = values.username?.trim();
        if (!username || !/^[\w.@-]{1,64}$/.test(username)) {
          throw new UsageError(`--username is required: 1 to 64 letters, digits, . _ @ -\n${USAGE}`);
        }
        if (!values.name?.trim()) throw new UsageError(`--name is required\n${USAGE}`);
        if (await stores.psus.findByUsername(username)) throw new UsageError(`the username ${username} is taken`);
        const given = values['password-stdin'] ? (await io.readStdin()).replace(/\r?\n$/, '') : undefined;
        if (given !== undefined && given.length < 8) throw new UsageError('the password needs at least 8 characters');
        const password = given ?? randomSecret(12);
        const totpSecret = newTotpSecret();
        const psu: PsuRecord = {
          psuId: globalThis.crypto.randomUUID(),
          username,
          displayName: values.name.trim(),
          passwordHash: await hashPassword(password),
          totpSecret,
          status: 'active',
          sandbox: false,
          failedAttempts: 0,
          lockedUntil: null,
          lastTotpStep: null,
          createdAt: Date.now(),
        };
        await stores.psus.insert(psu);
        io.out(`psu_id: ${psu.psuId}\nusername: ${username}\n`);
        if (given === undefined) io.out(`password: ${password}\n(shown once)\n`);
        io.out(enrolment(psu, totpSecret, issuerLabel));
        return 0;
      }
      case 'list': {
        const list = await stores.psus.list();
        const now = Date.now();
        const view = list.map((p) => ({
          psu_id: p.psuId,
          username: p.username,
          name: p.displayName,
          status: p.lockedUntil !== null && p.lockedUntil > now ? 'locked' : p.status,
          sandbox: p.sandbox,
          failed_attempts: p.failedAttempts,
          locked_until: p.lockedUntil === null ? null : new Date(p.lockedUntil).toISOString(),
        }));
        if (values.json) io.out(`${JSON.stringify(view, null, 2)}\n`);
        else {
          for (const p of view) {
            io.out(`${p.username}\t${p.name}\t${p.status}${p.sandbox ? '\tsandbox' : ''}\t${p.psu_id}\n`);
          }
        }
        return 0;
      }
      case 'disable':
      case 'enable': {
        const psu = await requirePsu(stores, values.username);
        await stores.psus.setStatus(psu.psuId, action === 'disable' ? 'disabled' : 'active');
        io.out(`${psu.username}: ${action === 'disable' ? 'disabled' : 'active'}\n`);
        return 0;
      }
      case 'reset-totp': {
        const psu = await requirePsu(stores, values.username);
        if (psu.sandbox) throw new UsageError('sandbox personas do not log in');
        const secret = newTotpSecret();
        await stores.psus.resetTotp(psu.psuId, secret);
        io.out(`${psu.username}: new TOTP secret; the block and the failure count are reset\n`);
        io.out(enrolment(psu, secret, issuerLabel));
        return 0;
      }
      default:
        throw new UsageError(`unknown action ${action ?? '(none)'}\n${USAGE}`);
    }
  });
}

export const psuCommand = {
  summary: 'manage PSUs: add, list, disable, enable, reset-totp (prints the TOTP enrolment once)',
  usage: USAGE,
  run: (args: string[]) => psuCommandWith(args, loadConfig(process.env), processIo),
};
