// `psd2-oauth keys list|rotate|retire`: the JOSE keys that sign access tokens, shared by every
// instance on the database. Running servers pick a change up within a second (server/signing-keys.ts).
import { loadSigningSettings, type StorageConfig } from '../config.ts';
import type { SigningKeySummary } from '../protocol/keys/ports.ts';
import { SIGNING_ALGS, type SigningAlg } from '../protocol/signer.ts';
import { createSigningKey } from '../signing-keys.ts';
import { type CliIo, type Command, iso, keyValues, option, processIo, runCommand, table } from './command.ts';
import { withStores } from './stores.ts';
import { DataError, UsageError } from './usage.ts';

function view(key: SigningKeySummary, ttlSeconds: number) {
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.status,
    created_at: iso(key.createdAt),
    deactivated_at: iso(key.deactivatedAt),
    /** When `retire` accepts it: one access-token lifetime after it stopped signing. */
    retirable_from:
      key.status === 'published'
        ? key.deactivatedAt === null
          ? iso(key.createdAt)
          : iso(key.deactivatedAt + ttlSeconds * 1000)
        : null,
  };
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'signing keys: list, rotate (a new active key), retire KID (gone from /jwks)',
  description:
    'Works on the database (DATA_DIR or DATABASE_URL), also while servers run: they use a rotated key\nwithin a second. rotate and list read KEY_ENCRYPTION_KEY(_FILE) only to seal a new key.',
  actions: {
    list: {
      summary: 'every signing key: status (active, published, retired), algorithm, dates',
      async run(ctx) {
        const { accessTokenTtl } = loadSigningSettings(ctx.io.env);
        return withStores(ctx, async (stores) => {
          const rows = (await stores.signingKeys.list()).map((k) => view(k, accessTokenTtl));
          ctx.print(rows, () =>
            table(rows, ['kid', 'alg', 'status', 'created_at', 'deactivated_at', 'retirable_from']),
          );
          return 0;
        });
      },
    },
    rotate: {
      summary: 'a new key signs from now on, on every instance; the former stays published',
      synopsis: '[--alg EdDSA|ES256|PS256]',
      description:
        'The new key is of --alg, by default ACCESS_TOKEN_SIGNING_ALG. The former active key stays at /jwks so\nthe tokens it signed verify; retire it after ACCESS_TOKEN_TTL seconds.',
      options: { alg: { type: 'string' } },
      async run(ctx) {
        const alg = (option(ctx.values, 'alg') ?? loadSigningSettings(ctx.io.env).signingAlg) as SigningAlg;
        if (!SIGNING_ALGS.includes(alg)) throw new UsageError(`--alg: one of ${SIGNING_ALGS.join(', ')}`);
        return withStores(ctx, async (stores) => {
          const now = Date.now();
          const key = await createSigningKey(alg, now);
          await stores.signingKeys.insertActive(key, now);
          const out = { kid: key.kid, alg, status: 'active' };
          ctx.print(out, () => `${keyValues(out)}running servers sign with it within a second\n`);
          return 0;
        });
      },
    },
    retire: {
      summary: 'remove a key from /jwks (never the active key, nor one that signed within ACCESS_TOKEN_TTL)',
      synopsis: 'KID',
      positionals: ['KID'],
      async run(ctx) {
        const kid = ctx.positionals[0] as string;
        const { accessTokenTtl } = loadSigningSettings(ctx.io.env);
        return withStores(ctx, async (stores) => {
          const now = Date.now();
          const outcome = await stores.signingKeys.retire(kid, now - accessTokenTtl * 1000, now);
          if (outcome === 'unknown') throw new DataError(`no published signing key ${kid}`);
          if (outcome === 'active') {
            throw new DataError(`${kid} is the active signing key: rotate first (psd2-oauth keys rotate)`);
          }
          if (outcome === 'too_recent') {
            throw new DataError(
              `${kid} signed tokens less than ACCESS_TOKEN_TTL (${accessTokenTtl} s) ago: see retirable_from in psd2-oauth keys list`,
            );
          }
          const out = { kid, status: 'retired' };
          ctx.print(out, () => keyValues(out));
          return 0;
        });
      },
    },
  },
};

/** The same command with another configuration and output (tests). */
export function keysCommandWith(
  args: string[],
  storage: StorageConfig,
  io: Partial<CliIo> & Pick<CliIo, 'out'>,
): Promise<number> {
  return runCommand(keysCommand, args, { ...processIo, ...io }, storage);
}
