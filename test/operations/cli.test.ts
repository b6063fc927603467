// The command line as an operator uses it: help without side effects, one JSON convention, tables,
// sysexits codes, database-only commands that need no TLS file, removals, IBAN checks, backup.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../../db/open.ts';
import { allCommands, main } from '../../server/cli.ts';
import { loadStorageConfig } from '../../server/config.ts';
import { parseIban } from '../../server/protocol/iban.ts';
import { sqliteOnly } from '../support/backend.ts';
import { testDatabase } from '../support/server.ts';

/** PSD2_TEST_BACKEND=postgres: the commands work on a PostgreSQL database (DATABASE_URL). */
const postgres = process.env.PSD2_TEST_BACKEND === 'postgres';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    readStdin: async () => stdin,
    env,
  });
  return { code, out, err };
}

/** Every file of the folder with the SHA-256 of its bytes (none if there is no folder yet). */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir).sort()) {
    files[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  }
  return files;
}

const snakeCase = (value: unknown, path = '$'): string[] => {
  if (Array.isArray(value)) return value.flatMap((v, i) => snakeCase(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      ...(/^[a-z][a-z0-9_]*$/.test(k) ? [] : [`${path}.${k}`]),
      ...snakeCase(v, `${path}.${k}`),
    ]);
  }
  return [];
};

describe('psd2-oauth command line', () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-cli-'));
    // Production without any TLS file or issuer: the database commands need only DATA_DIR, and the
    // key-encryption key for those that seal a secret (a PSU's TOTP secret).
    env = {
      DATA_DIR: join(dir, 'data'),
      MODE: 'production',
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      ...(await testDatabase()),
    };
    const added = await run(
      ['psu', 'add', '--username', 'jdupont', '--name', 'Jean Dupont', '--password-stdin'],
      env,
      'a long passphrase\n',
    );
    assert.equal(added.code, 0, added.err);
    assert.match(added.out, /^totp_secret: [A-Z2-7]+$/m);
    assert.doesNotMatch(added.out, /^password:/m, 'a password given on stdin is not echoed');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--help on every command and action prints its help and changes nothing', async () => {
    const data = env.DATA_DIR as string;
    const before = snapshot(data);
    const commands = await allCommands();
    assert.ok(commands.length >= 7);
    let checked = 0;
    for (const command of commands) {
      const forms: string[][] = [
        [command.name, '--help'],
        [command.name, '-h'],
        ['help', command.name],
      ];
      for (const action of Object.keys(command.actions ?? {})) {
        forms.push([command.name, action, '--help'], [command.name, action, '--username', 'x', '--bogus', '-h']);
      }
      for (const argv of forms) {
        const result = await run(argv, env);
        assert.equal(result.code, 0, `${argv.join(' ')}: ${result.err}`);
        assert.match(result.out, /^psd2-oauth /, argv.join(' '));
        assert.match(result.out, /Usage:/, argv.join(' '));
        assert.equal(result.err, '', argv.join(' '));
        assert.deepEqual(snapshot(data), before, `${argv.join(' ')} changed the database folder`);
        checked += 1;
      }
    }
    assert.ok(checked > 40, `${checked} forms`);
    const top = await run(['--help'], env);
    assert.equal(top.code, 0);
    for (const command of commands) assert.ok(top.out.includes(`  ${command.name} `), command.name);
    assert.match(top.out, /64 usage.*65 data/s);
  });

  test('--json everywhere, snake_case keys; tables otherwise', async () => {
    const account = await run(
      [
        'account',
        'add',
        '--username',
        'jdupont',
        '--iban',
        'FR76 3000 6000 0112 3456 7890 189',
        '--name',
        'Compte Chèques',
        '--json',
      ],
      env,
    );
    assert.equal(account.code, 0, account.err);
    assert.equal(JSON.parse(account.out).iban, 'FR7630006000011234567890189', 'spaces and case normalised');
    const rs = await run(['resource-server', 'add', 'accounts-api', '--json'], env);
    assert.equal(rs.code, 0, rs.err);
    const lists = [
      ['psu', 'list'],
      ['psu', 'show', '--username', 'jdupont'],
      ['account', 'list'],
      ['account', 'list', '--username', 'jdupont'],
      ['consent', 'list'],
      ['resource-server', 'list'],
    ];
    for (const argv of lists) {
      const json = await run([...argv, '--json'], env);
      assert.equal(json.code, 0, `${argv.join(' ')}: ${json.err}`);
      const parsed = JSON.parse(json.out);
      assert.deepEqual(snakeCase(parsed), [], `${argv.join(' ')} --json keys`);
      const human = await run(argv, env);
      assert.equal(human.code, 0);
      assert.throws(() => JSON.parse(human.out), `${argv.join(' ')} prints a table for people`);
    }
    for (const argv of [JSON.parse(account.out), JSON.parse(rs.out)]) assert.deepEqual(snakeCase(argv), []);
    const table = (await run(['psu', 'list'], env)).out.split('\n');
    assert.match(table[0] as string, /^USERNAME\s+NAME\s+STATUS/);
    assert.match(table[1] as string, /^jdupont\s+Jean Dupont\s+active/);
    const show = JSON.parse((await run(['psu', 'show', '--username', 'jdupont', '--json'], env)).out);
    assert.equal(show.accounts.length, 1);
    assert.equal(JSON.stringify(show).includes('scrypt'), false, 'never the password hash');
  });

  test('exit codes from sysexits: 64 usage, 65 data, 74 I/O, 78 configuration', async () => {
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [['nonsense'], env, 64, /unknown command "nonsense"/],
      [['psu', 'frobnicate'], env, 64, /unknown action "frobnicate"/],
      [['psu', 'list', '--colour'], env, 64, /Unknown option '--colour'/],
      [['psu', 'add', '--name', 'x'], env, 64, /--username ID is required/],
      [['consent', 'revoke'], env, 64, /expects CONSENT_ID/],
      [['psu', 'disable', '--username', 'nobody'], env, 65, /no PSU with the username nobody/],
      [
        ['account', 'add', '--username', 'jdupont', '--iban', 'FR7630006000011234567890188', '--name', 'x'],
        env,
        65,
        /mod-97/,
      ],
      [
        ['account', 'add', '--username', 'jdupont', '--iban', 'FR763000600001123456789018', '--name', 'x'],
        env,
        65,
        /27 characters/,
      ],
      [['consent', 'revoke', 'nope'], env, 65, /no active consent nope/],
      [['psu', 'list'], { ...env, MODE: 'staging' }, 78, /MODE="staging"/],
      [['psu', 'list'], { DATA_DIR: join(dir, 'a-file', 'data') }, 74, /DATA_DIR: the database .* cannot be opened/],
      postgres
        ? [['backup', join(dir, 'copy.db')], env, 78, /DATABASE_URL is PostgreSQL: back it up with pg_dump/]
        : [['backup', join(dir, 'no-such-folder', 'copy.db')], env, 74, /cannot write into/],
    ];
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    for (const [argv, e, code, message] of cases) {
      const result = await run(argv, e);
      assert.equal(result.code, code, `${argv.join(' ')}: ${result.err}`);
      assert.match(result.err, message, argv.join(' '));
      // One line; a configuration error lists every bad variable, one line each.
      if (code !== 78) assert.equal(result.err.trim().split('\n').length, 1, `one line: ${result.err}`);
    }
  });

  test('account remove and psu remove withdraw the consents that depended on them', async () => {
    await run(['psu', 'add', '--username', 'leaving', '--name', 'Leaving'], env);
    const ids: string[] = [];
    for (const iban of ['FR7630004000031234567890143', 'FR7630006000011234567890189']) {
      const added = await run(
        ['account', 'add', '--username', 'leaving', '--iban', iban, '--name', 'x', '--json'],
        env,
      );
      assert.equal(added.code, 0, added.err);
      ids.push(JSON.parse(added.out).account_id);
    }
    const psuId = JSON.parse((await run(['psu', 'show', '--username', 'leaving', '--json'], env)).out).psu_id;
    // Two consents through the store port, as the consent page gives them: one per account.
    const database = await openDatabase(loadStorageConfig(env).database);
    const now = Date.now();
    try {
      const { consents, sessions } = database.stores.authorization;
      for (const [i, accountId] of ids.entries()) {
        const consentId = `consent-${i}`;
        const request = {
          clientId: 'c1',
          redirectUri: 'https://tpp.example/cb',
          scope: 'aisp',
          codeChallenge: 'x',
          codeChallengeMethod: 'S256' as const,
        };
        // The approval ends a PSU session at its consent step, in the same transaction.
        await sessions.create(`session-${i}`, {
          sessionId: `sid-${i}`,
          request,
          psuId,
          stage: 'consent',
          csrfToken: 'csrf',
          authenticatedAt: now,
          lastSeenAt: now,
          expiresAt: now + 300_000,
          createdAt: now,
        });
        const granted = await consents.grant(
          {
            consent: {
              consentId,
              clientId: 'c1',
              psuId,
              scope: 'aisp',
              accountIds: [accountId as string],
              createdAt: now,
              expiresAt: now + 1e9,
            },
            code: {
              codeDigest: `digest-${i}`,
              clientId: 'c1',
              redirectUri: request.redirectUri,
              codeChallenge: 'x',
              consentId,
              psuId,
              scope: 'aisp',
              createdAt: now,
              expiresAt: now + 60_000,
            },
            codeSecret: `code-${i}`,
          },
          { sessionDigest: `session-${i}`, fromStage: 'consent' },
        );
        assert.equal(granted, 'granted');
        await database.stores.authorization.events.record({
          sessionId: `sid-${i}`,
          event: 'consent.granted',
          occurredAt: now + i,
          psuId,
          clientId: 'c1',
          detail: { consentId },
        });
      }
    } finally {
      await database.close();
    }
    const removed = await run(['account', 'remove', ids[0] as string, '--json'], env);
    assert.equal(removed.code, 0, removed.err);
    assert.deepEqual(JSON.parse(removed.out), { account_id: ids[0], removed: true, consents_revoked: 1 });
    assert.equal((await run(['account', 'remove', ids[0] as string], env)).code, 65, 'already gone');
    const listed = JSON.parse((await run(['consent', 'list', '--psu', psuId, '--json'], env)).out);
    assert.deepEqual(
      listed.map((c: { consent_id: string; revoked_by: string | null }) => [c.consent_id, c.revoked_by]).sort(),
      [
        ['consent-0', 'bank'],
        ['consent-1', null],
      ],
    );
    const gone = await run(['psu', 'remove', '--username', 'leaving', '--json'], env);
    assert.equal(gone.code, 0, gone.err);
    assert.equal(JSON.parse(gone.out).consents_revoked, 1);
    assert.equal((await run(['psu', 'show', '--username', 'leaving'], env)).code, 65);
    const accounts = JSON.parse((await run(['account', 'list', '--json'], env)).out);
    assert.equal(accounts.filter((a: { psu_id: string }) => a.psu_id === psuId).length, 0);
    const after = JSON.parse((await run(['consent', 'list', '--psu', psuId, '--json'], env)).out);
    assert.ok(after.every((c: { revoked_at: string | null }) => c.revoked_at !== null));
    // The authentication log outlives the PSU (RTS art. 29): `psu events` still prints it.
    const events = await run(['psu', 'events', psuId, '--json'], env);
    assert.equal(events.code, 0, events.err);
    assert.deepEqual(
      JSON.parse(events.out).map((e: { session_id: string; event: string; detail: unknown }) => [
        e.session_id,
        e.event,
        e.detail,
      ]),
      [
        ['sid-0', 'consent.granted', { consentId: 'consent-0' }],
        ['sid-1', 'consent.granted', { consentId: 'consent-1' }],
      ],
    );
    const table = (await run(['psu', 'events', psuId], env)).out.split('\n');
    assert.match(table[0] as string, /^OCCURRED_AT\s+SESSION_ID\s+EVENT\s+CLIENT_ID\s+DETAIL/);
    assert.match(table[1] as string, /Z\s+sid-0\s+consent\.granted\s+c1\s+\{"consentId":"consent-0"\}/);
    assert.deepEqual(JSON.parse((await run(['psu', 'events', 'nobody', '--json'], env)).out), []);
  });

  test('backup FILE: a sound copy of the live database, never over an existing file', {
    skip: sqliteOnly('backup FILE is SQLite’s online backup API (on PostgreSQL it exits 78 naming pg_dump, above)'),
  }, async () => {
    const target = join(dir, 'copy.db');
    const result = await run(['backup', target, '--json'], env);
    assert.equal(result.code, 0, result.err);
    assert.equal(JSON.parse(result.out).backup, target);
    assert.ok(!existsSync(`${target}.partial`));
    const copy = new Database(target, { readonly: true });
    try {
      assert.equal(copy.pragma('quick_check', { simple: true }), 'ok');
      const row = copy.prepare('select username from psus where username = ?').get('jdupont');
      assert.deepEqual(row, { username: 'jdupont' });
    } finally {
      copy.close();
    }
    const again = await run(['backup', target], env);
    assert.equal(again.code, 74);
    assert.match(again.err, /exists: choose a new file name/);
  });
});

test('IBAN: country length and mod-97 check digits', () => {
  for (const good of [
    'FR7630006000011234567890189',
    'DE89370400440532013000',
    'GB82WEST12345698765432',
    'NL91ABNA0417164300',
  ]) {
    assert.deepEqual(parseIban(good), { ok: true, iban: good });
  }
  assert.deepEqual(parseIban('fr76 3000 6000 0112 3456 7890 189'), { ok: true, iban: 'FR7630006000011234567890189' });
  for (const [bad, reason] of [
    ['FR7630006000011234567890188', /mod-97/],
    ['FR7630006000011234567809189', /mod-97/], // two digits swapped
    ['DE8937040044053201300', /22 characters/],
    ['FR76-3000', /country code/],
    ['', /country code/],
  ] as const) {
    const result = parseIban(bad);
    assert.equal(result.ok, false, bad);
    if (!result.ok) assert.match(result.reason, reason);
  }
});
