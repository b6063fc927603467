// `psd2-oauth psu add|list|show|disable|enable|reset-totp|remove`: the PSUs of the default
// authenticator, in the server's database. A bank with its own identity provider does not need them.
// `psu permissions PSU_ID`: the PSU's permission dashboard, as the back-office API answers it.
// `psu events PSU_ID`: the PSU's authentication log (RTS art. 29), the bank's evidence in a dispute.
import type { Stores } from '../../db/stores.ts';
import type { StorageConfig } from '../config.ts';
import { permissionsBody } from '../http/routes/permissions-api.ts';
import { OAuthError } from '../protocol/errors.ts';
import { permissionsOf } from '../protocol/permissions.ts';
import type { PsuRecord } from '../protocol/psu/ports.ts';
import { hashPassword, newTotpSecret, totpFor } from '../protocol/psu-authentication.ts';
import { randomSecret } from '../protocol/secrets.ts';
import {
  type ActionContext,
  type CliIo,
  type Command,
  iso,
  keyValues,
  processIo,
  requireOption,
  runCommand,
  table,
} from './command.ts';
import { withStores } from './stores.ts';
import { DataError, UsageError } from './usage.ts';

const username = { username: { type: 'string' } } as const;

export async function requirePsu(stores: Stores, name: string): Promise<PsuRecord> {
  const psu = await stores.authorization.psus.findByUsername(name);
  if (!psu) throw new DataError(`no PSU with the username ${name}`);
  return psu;
}

function view(p: PsuRecord, now: number) {
  return {
    psu_id: p.psuId,
    username: p.username,
    name: p.displayName,
    status: p.lockedUntil !== null && p.lockedUntil > now ? 'locked' : p.status,
    sandbox: p.sandbox,
    failed_attempts: p.failedAttempts,
    locked_until: iso(p.lockedUntil),
    created_at: iso(p.createdAt),
  };
}

function enrolment(ctx: ActionContext, psu: Pick<PsuRecord, 'username'>, secret: string) {
  // The issuer is what the authenticator app shows above the code: the bank's name when set.
  const { issuer, bankName } = ctx.storage();
  const label = bankName ?? (issuer ? new URL(issuer).host : 'psd2-oauth');
  return { totp_secret: secret, totp_uri: totpFor(secret, psu.username, label).toString() };
}

const SHOWN_ONCE = "(shown once: enrol the TOTP secret in the PSU's authenticator app now)\n";

const permissionsAction = {
  summary: 'the PSU’s permission dashboard: active permissions, then the last two years’ history',
  synopsis: 'PSU_ID',
  description:
    'PSU_ID as `psu list` prints it (or as the bank’s own authenticator names the PSU). `--json` prints\nthe document GET /psus/{psu_id}/permissions answers. Withdraw with `consent revoke CONSENT_ID`.',
  positionals: ['PSU_ID'],
  async run(ctx: ActionContext) {
    const psuId = ctx.positionals[0] as string;
    return withStores(ctx, async (stores) => {
      const overview = await permissionsOf(
        {
          consents: stores.authorization.consents,
          clients: stores.clients,
          accounts: stores.authorization.accounts,
          psus: stores.authorization.psus,
          records: stores.permissions,
          events: stores.authorization.events,
        },
        psuId,
        Date.now(),
      ).catch((err: unknown) => {
        throw err instanceof OAuthError && err.code === 'not_found' ? new DataError(`no PSU ${psuId}`) : err;
      });
      const body = permissionsBody(overview);
      ctx.print(body, () => {
        const rows = [...body.permissions, ...body.history.permissions].map((p) => ({
          consent_id: p.consent_id,
          tpp: p.tpp.client_name,
          organization: p.tpp.organization_identifier,
          service: p.service,
          ibans: p.accounts.map((a) => a.iban ?? a.account_id),
          granted_at: p.granted_at,
          sca_renewal_at: p.sca_renewal_at,
          expires_at: p.expires_at,
          status: p.status === 'withdrawn' ? `withdrawn ${p.withdrawn_at} by ${p.withdrawn_by}` : p.status,
        }));
        const payments = body.history.payments.map((p) => ({
          authorization_id: p.authorization_id,
          tpp: p.tpp.client_name,
          amount: `${p.amount} ${p.currency}`,
          creditor: p.creditor_name,
          authorised_at: p.authorised_at,
          status: p.status,
        }));
        return [
          `PSU ${body.psu_id}: permissions (active first, then ended in the last two years)`,
          table(rows, [
            'consent_id',
            'tpp',
            'organization',
            'service',
            'ibans',
            'granted_at',
            'sca_renewal_at',
            'expires_at',
            'status',
          ]),
          'Authorised payments (last two years, read-only)',
          table(payments, ['authorization_id', 'tpp', 'amount', 'creditor', 'authorised_at', 'status']),
        ].join('\n');
      });
      return 0;
    });
  },
};

const eventsAction = {
  summary: 'the PSU’s authentication log (RTS art. 29): every step of every session the PSU took part in',
  synopsis: 'PSU_ID',
  description:
    'PSU_ID as `psu list` prints it. Oldest first, the steps before the PSU was identified included\n(session.started); kept after `psu remove`. What the bank shows when a PSU disputes an operation.',
  positionals: ['PSU_ID'],
  async run(ctx: ActionContext) {
    const psuId = ctx.positionals[0] as string;
    return withStores(ctx, async (stores) => {
      const events = (await stores.authorization.events.list({ psuId })).map((e) => ({
        occurred_at: iso(e.occurredAt),
        session_id: e.sessionId,
        event: e.event,
        psu_id: e.psuId ?? null,
        client_id: e.clientId ?? null,
        detail: e.detail ?? null,
      }));
      ctx.print(events, () =>
        table(
          events.map((e) => ({ ...e, detail: e.detail ? JSON.stringify(e.detail) : null })),
          ['occurred_at', 'session_id', 'event', 'client_id', 'detail'],
        ),
      );
      return 0;
    });
  },
};

export const psuCommand: Command = {
  name: 'psu',
  summary:
    'PSUs of the default authenticator: add, list, show, disable, enable, reset-totp, remove, permissions, events',
  description:
    'Works on the database only (DATA_DIR or DATABASE_URL), also while the server runs. A bank that plugs\nits own identity provider does not need these PSUs.',
  actions: {
    add: {
      summary: 'create a PSU; prints its id, the TOTP secret and otpauth:// URI once',
      synopsis: '--username ID --name "Display Name" [--password-stdin]',
      description:
        'Without --password-stdin a random password is generated and printed once. The username is 1 to 64\nletters, digits, . _ @ -.',
      options: { ...username, name: { type: 'string' }, 'password-stdin': { type: 'boolean', default: false } },
      async run(ctx) {
        const name = requireOption(ctx.values, 'username', 'ID');
        if (!/^[\w.@-]{1,64}$/.test(name)) throw new UsageError('--username: 1 to 64 letters, digits, . _ @ -');
        const displayName = requireOption(ctx.values, 'name', '"Display Name"');
        const given =
          ctx.values['password-stdin'] === true ? (await ctx.io.readStdin()).replace(/\r?\n$/, '') : undefined;
        if (given !== undefined && given.length < 8) throw new DataError('the password needs at least 8 characters');
        return withStores(ctx, async (stores) => {
          if (await stores.authorization.psus.findByUsername(name)) {
            throw new DataError(`the username ${name} is taken`);
          }
          const password = given ?? randomSecret(12);
          const totpSecret = newTotpSecret();
          const psu: PsuRecord = {
            psuId: globalThis.crypto.randomUUID(),
            username: name,
            displayName,
            passwordHash: await hashPassword(password),
            totpSecret,
            status: 'active',
            sandbox: false,
            failedAttempts: 0,
            lockedUntil: null,
            lastTotpStep: null,
            createdAt: Date.now(),
          };
          await stores.authorization.psus.insert(psu);
          const out = {
            psu_id: psu.psuId,
            username: name,
            ...(given === undefined ? { password } : {}),
            ...enrolment(ctx, psu, totpSecret),
          };
          ctx.print(out, () => keyValues(out) + SHOWN_ONCE);
          return 0;
        });
      },
    },
    list: {
      summary: 'list the PSUs; status "locked" while blocked after failed attempts',
      async run(ctx) {
        return withStores(ctx, async (stores) => {
          const now = Date.now();
          const rows = (await stores.authorization.psus.list()).map((p) => view(p, now));
          ctx.print(rows, () =>
            table(
              rows.map((r) => ({ ...r, sandbox: r.sandbox ? 'yes' : 'no' })),
              ['username', 'name', 'status', 'failed_attempts', 'locked_until', 'sandbox', 'psu_id'],
            ),
          );
          return 0;
        });
      },
    },
    show: {
      summary: 'one PSU and its accounts (never the password hash or the TOTP secret)',
      synopsis: '--username ID',
      options: username,
      async run(ctx) {
        const name = requireOption(ctx.values, 'username', 'ID');
        return withStores(ctx, async (stores) => {
          const psu = await requirePsu(stores, name);
          const accounts = (await stores.authorization.psus.listAccounts(psu.psuId)).map((a) => ({
            account_id: a.accountId,
            iban: a.iban,
            name: a.name,
            type: a.type,
            currency: a.currency,
          }));
          const out = { ...view(psu, Date.now()), accounts };
          ctx.print(out, () => {
            const { accounts: _, ...rest } = out;
            return `${keyValues(rest)}\n${table(accounts, ['account_id', 'iban', 'type', 'currency', 'name'])}`;
          });
          return 0;
        });
      },
    },
    disable: {
      summary: 'refuse the PSU at login (enable undoes it)',
      synopsis: '--username ID',
      options: username,
      run: (ctx) => setStatus(ctx, 'disabled'),
    },
    enable: {
      summary: 'allow a disabled PSU to log in again',
      synopsis: '--username ID',
      options: username,
      run: (ctx) => setStatus(ctx, 'active'),
    },
    'reset-totp': {
      summary: 'a new TOTP secret, printed once; also unblocks the PSU and resets the failure count',
      synopsis: '--username ID',
      options: username,
      async run(ctx) {
        const name = requireOption(ctx.values, 'username', 'ID');
        return withStores(ctx, async (stores) => {
          const psu = await requirePsu(stores, name);
          if (psu.sandbox) throw new DataError('sandbox personas do not log in');
          const secret = newTotpSecret();
          await stores.authorization.psus.resetTotp(psu.psuId, secret);
          const out = { psu_id: psu.psuId, username: psu.username, ...enrolment(ctx, psu, secret) };
          ctx.print(out, () => `${keyValues(out)}the block and the failure count are reset\n${SHOWN_ONCE}`);
          return 0;
        });
      },
    },
    remove: {
      summary: 'delete a PSU and its accounts; its consents are withdrawn and their tokens stop at once',
      synopsis: '--username ID',
      description: 'The authentication log keeps its rows (RTS art. 29).',
      options: username,
      async run(ctx) {
        const name = requireOption(ctx.values, 'username', 'ID');
        return withStores(ctx, async (stores) => {
          const psu = await requirePsu(stores, name);
          const removed = await stores.authorization.psus.remove(psu.psuId, Date.now());
          if (!removed) throw new DataError(`no PSU with the username ${name}`);
          const out = {
            psu_id: psu.psuId,
            username: psu.username,
            removed: true,
            consents_revoked: removed.consentsRevoked,
          };
          ctx.print(out, () => keyValues(out));
          return 0;
        });
      },
    },
    permissions: permissionsAction,
    events: eventsAction,
  },
};

async function setStatus(ctx: ActionContext, status: PsuRecord['status']): Promise<number> {
  const name = requireOption(ctx.values, 'username', 'ID');
  return withStores(ctx, async (stores) => {
    const psu = await requirePsu(stores, name);
    await stores.authorization.psus.setStatus(psu.psuId, status);
    const out = { psu_id: psu.psuId, username: psu.username, status };
    ctx.print(out, () => keyValues(out));
    return 0;
  });
}

/** Runs `psu …` on a given database (tests, embedding); `io` defaults to the process's. */
export function psuCommandWith(
  args: string[],
  storage: StorageConfig,
  io: Partial<CliIo> & Pick<CliIo, 'out'>,
): Promise<number> {
  return runCommand(psuCommand, args, { ...processIo, ...io }, storage);
}
