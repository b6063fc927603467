// Which backend the server tests run on: SQLite (the default) or PostgreSQL
// (PSD2_TEST_BACKEND=postgres, test/support/server.ts). Tests of SQLite itself (its files, pragmas,
// group commit, data_version) are skipped on PostgreSQL with the reason, never failed.
import process from 'node:process';

export const testBackend: 'sqlite' | 'postgres' = process.env.PSD2_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

/** `skip` for a test of SQLite itself: the reason under PSD2_TEST_BACKEND=postgres, else false. */
export function sqliteOnly(what: string): string | false {
  return testBackend === 'postgres' && `SQLite only (PSD2_TEST_BACKEND=postgres): ${what}`;
}
