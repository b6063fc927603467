// Row-to-record mappings shared by both backends: db/schema.ts and db/pg/schema.ts name their
// columns alike, so one mapping keeps a field from being dropped on one backend only.
import type { ConsentState } from '../server/protocol/token/ports.ts';

/** The columns of a `consents` row, as both drizzle schemas select them. */
export interface ConsentRow {
  consentId: string;
  clientId: string;
  psuId: string;
  scope: string;
  accountIds: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  authorizationId: string | null;
}

export function consentState(row: ConsentRow | null | undefined): ConsentState | undefined {
  if (!row) return undefined;
  let accountIds: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.accountIds);
    if (Array.isArray(parsed)) accountIds = parsed.map(String);
  } catch {
    // A malformed list grants no account rather than failing every token of the consent.
  }
  return {
    consentId: row.consentId,
    clientId: row.clientId,
    psuId: row.psuId,
    scope: row.scope,
    accountIds,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    // The payment a pisp consent approves: without it a code would yield a token bound to no payment.
    ...(row.authorizationId ? { authorizationId: row.authorizationId } : {}),
  };
}
