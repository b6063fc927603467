// The database for one command: opened after the arguments were checked, closed when it ends. A
// file that cannot be opened is reported naming DATABASE_URL or DATA_DIR (exit code 74).
import type { Stores } from '../../db/stores.ts';
import { lazySecretSealer } from '../key-encryption.ts';
import { databaseSetting, type OpenedDatabase, openDatabase } from '../startup.ts';
import type { ActionContext } from './command.ts';

export async function withDatabase<T>(ctx: ActionContext, run: (db: OpenedDatabase) => Promise<T>): Promise<T> {
  const storage = ctx.storage();
  // Signing keys and TOTP secrets are sealed; the key-encryption key is read only if one is touched.
  const db = await openDatabase(storage.database, databaseSetting(ctx.io.env), { sealer: lazySecretSealer(storage) });
  try {
    return await run(db);
  } finally {
    await db.close();
  }
}

export function withStores<T>(ctx: ActionContext, run: (stores: Stores) => Promise<T>): Promise<T> {
  return withDatabase(ctx, (db) => run(db.stores));
}
