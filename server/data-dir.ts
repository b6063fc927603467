// DATA_DIR holds the database and, in a sandbox, generated keys: readable by the server's user
// only. Modes are set with chmod after creating, because the mode given to mkdir/open is reduced by
// the process umask (a 0o000 umask would otherwise not matter, but a 0o022 one leaves 0755/0644 on
// files created before this code, and a file created by SQLite follows the database file's mode).
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const DIRECTORY_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Creates DATA_DIR 0700 (or narrows it to 0700) and narrows every file directly in it to 0600. */
export function prepareDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIRECTORY_MODE });
  chmodSync(dir, DIRECTORY_MODE);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat?.isFile() && (stat.mode & 0o777) !== FILE_MODE) chmodSync(path, FILE_MODE);
  }
}
