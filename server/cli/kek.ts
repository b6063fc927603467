// `psd2-oauth kek generate|rotate|status`: the key-encryption key that seals signing private keys
// and TOTP secrets in the database (server/key-encryption.ts).

import type { StorageConfig } from '../config.ts';
import { createSecretSealer, loadKek, readKekFile, writeKekFile } from '../key-encryption.ts';
import { type CliIo, type Command, keyValues, processIo, requireOption, runCommand } from './command.ts';
import { withStores } from './stores.ts';
import { DataError, EXIT, OperatorError, UsageError } from './usage.ts';

export const kekCommand: Command = {
  name: 'kek',
  summary: 'the key-encryption key: generate FILE, rotate --new-key-file FILE, status',
  description:
    'The KEK (KEY_ENCRYPTION_KEY_FILE or KEY_ENCRYPTION_KEY) seals the signing private keys and the PSUs’ TOTP\nsecrets in the database with AES-256-GCM.',
  actions: {
    generate: {
      summary: 'write a new key-encryption key into FILE (0600; never overwrites)',
      synopsis: 'FILE',
      positionals: ['FILE'],
      run(ctx) {
        const file = ctx.positionals[0] as string;
        try {
          writeKekFile(file);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') throw new DataError(`${file} exists: not overwritten`);
          // A folder that is missing or not writable is the operator's to fix, not an internal error.
          if (code === 'ENOENT' || code === 'EACCES' || code === 'EROFS' || code === 'ENOTDIR') {
            throw new OperatorError(
              EXIT.io,
              `cannot write ${file} (${code}): create its folder, writable by this user`,
            );
          }
          throw err;
        }
        const out = { file, mode: '0600' };
        ctx.print(out, () => keyValues(out));
        return 0;
      },
    },
    rotate: {
      summary: 're-encrypt every sealed secret under the key in FILE, in one transaction',
      synopsis: '--new-key-file FILE',
      description:
        'Nothing changes if one secret does not open under the configured key. Then set\nKEY_ENCRYPTION_KEY_FILE=FILE for every instance and restart them; keep the old key until they run.',
      options: { 'new-key-file': { type: 'string' } },
      async run(ctx) {
        const file = requireOption(ctx.values, 'new-key-file', 'FILE (make one with `psd2-oauth kek generate FILE`)');
        const current = createSecretSealer(loadKek(ctx.storage()));
        const next = createSecretSealer(readKekFile(file, '--new-key-file'));
        if (next.kekId === current.kekId) throw new UsageError('--new-key-file holds the key already configured');
        return withStores(ctx, async (stores) => {
          const resealed = await stores.secrets.reseal(next);
          const out = { from: current.kekId, to: next.kekId, resealed };
          ctx.print(
            out,
            () => `${keyValues(out)}now set KEY_ENCRYPTION_KEY_FILE=${file} for every instance and restart them\n`,
          );
          return 0;
        });
      },
    },
    status: {
      summary: 'the configured key id, and how many secrets each key id sealed',
      async run(ctx) {
        const current = createSecretSealer(loadKek(ctx.storage()));
        return withStores(ctx, async (stores) => {
          const out = { kek_id: current.kekId, sealed: await stores.secrets.sealedUnder() };
          ctx.print(out, () =>
            keyValues({
              kek_id: out.kek_id,
              ...Object.fromEntries(Object.entries(out.sealed).map(([id, n]) => [`sealed_by_${id}`, n])),
            }),
          );
          return 0;
        });
      },
    },
  },
};

/** The same command with another configuration and output (tests). */
export function kekCommandWith(
  args: string[],
  storage: StorageConfig,
  io: Partial<CliIo> & Pick<CliIo, 'out'>,
): Promise<number> {
  return runCommand(kekCommand, args, { ...processIo, ...io }, storage);
}
