// A consent and an authorization code written straight into the test server's database, as the
// authorization endpoint does on PSU approval: unit-level token tests need no browser or PSU page.
// WAL lets this second connection write while the server runs.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { base64url } from 'jose';
import { randomSecret, secretDigest } from '../../server/protocol/secrets.ts';
import type { TestServer } from './server.ts';

export interface IssuedCode {
  code: string;
  codeVerifier: string;
  consentId: string;
  psuId: string;
  redirectUri: string;
}

export interface CodeOptions {
  clientId: string;
  redirectUri: string;
  scope?: string;
  psuId?: string;
  accountIds?: string[];
  /** Milliseconds from now; default 180 days. */
  consentLifetime?: number;
  /** Milliseconds from now; default 60 s. */
  codeLifetime?: number;
  /** An existing consent to issue another code for. */
  consentId?: string;
}

export function database(server: TestServer): Database.Database {
  const db = new Database(join(server.dataDir, 'psd2-oauth.db'));
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Runs one statement on the server's database and closes the connection. */
export function sql<T = unknown>(server: TestServer, statement: string, ...params: unknown[]): T[] {
  const db = database(server);
  try {
    const prepared = db.prepare(statement);
    if (prepared.reader) return prepared.all(...params) as T[];
    prepared.run(...params);
    return [];
  } finally {
    db.close();
  }
}

export async function issueCode(server: TestServer, options: CodeOptions): Promise<IssuedCode> {
  const now = Date.now();
  const code = randomSecret(32);
  const codeVerifier = randomSecret(32);
  const challenge = base64url.encode(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(codeVerifier))),
  );
  const psuId = options.psuId ?? 'psu-alice';
  const scope = options.scope ?? 'aisp';
  const consentId = options.consentId ?? `consent-${randomSecret(9)}`;
  const codeDigest = await secretDigest(code);
  const db = database(server);
  try {
    db.transaction(() => {
      if (!options.consentId) {
        db.prepare(
          `INSERT INTO consents (consent_id, client_id, psu_id, scope, account_ids, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          consentId,
          options.clientId,
          psuId,
          scope,
          JSON.stringify(options.accountIds ?? ['acc-1', 'acc-2']),
          now,
          now + (options.consentLifetime ?? 180 * 86_400_000),
        );
      }
      db.prepare(
        `INSERT INTO authorization_codes (code_digest, client_id, redirect_uri, code_challenge, consent_id, psu_id,
           scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        codeDigest,
        options.clientId,
        options.redirectUri,
        challenge,
        consentId,
        psuId,
        scope,
        now,
        now + (options.codeLifetime ?? 60_000),
      );
    })();
  } finally {
    db.close();
  }
  return { code, codeVerifier, consentId, psuId, redirectUri: options.redirectUri };
}
