// `psd2-oauth backup FILE`: a consistent copy of the SQLite database while the server runs (SQLite's
// online backup API). PostgreSQL is backed up with its own tools (pg_dump), see the README.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { backupSqlite } from '../../db/sqlite.ts';
import { EXIT, OperatorError } from '../operator-error.ts';
import { databaseProblem, databaseSetting } from '../startup.ts';
import { type Command, keyValues } from './command.ts';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'copy the SQLite database to FILE while the server runs (online backup API)',
  action: {
    summary: 'copy the SQLite database to FILE while the server runs (online backup API)',
    synopsis: 'FILE',
    positionals: ['FILE'],
    description:
      'FILE must not exist. The copy is checked (PRAGMA quick_check) before it takes its name. To restore: stop\nthe server, put the copy in place of the database file (and remove its -wal and -shm files), start it.\nFor PostgreSQL use pg_dump.',
    async run(ctx) {
      const database = ctx.storage().database;
      if (database.kind === 'postgres') {
        throw new OperatorError(EXIT.config, 'DATABASE_URL is PostgreSQL: back it up with pg_dump (see the README)');
      }
      const source = database.path;
      const target = resolve(ctx.positionals[0] as string);
      if (!existsSync(source)) {
        throw new OperatorError(EXIT.io, `${databaseSetting(ctx.io.env)}: no database at ${source}`);
      }
      if (existsSync(target)) throw new OperatorError(EXIT.io, `${target} exists: choose a new file name`);
      try {
        accessSync(dirname(target), constants.W_OK);
      } catch (err) {
        throw new OperatorError(EXIT.io, `cannot write into ${dirname(target)} (${(err as { code?: string }).code})`);
      }
      let copied: { bytes: number; pages: number };
      try {
        copied = await backupSqlite(source, target);
      } catch (err) {
        const problem = databaseProblem(err, source, databaseSetting(ctx.io.env));
        if (problem) throw problem;
        const code = err && typeof err === 'object' && 'code' in err ? ` (${String(err.code)})` : '';
        throw new OperatorError(EXIT.io, `cannot write the backup ${target}${code}: ${(err as Error).message}`);
      }
      const out = { database: source, backup: target, bytes: copied.bytes, pages: copied.pages };
      ctx.print(out, () => keyValues(out));
      return 0;
    },
  },
};
