// The SQLite implementations of the PSU-side ports: PSUs and accounts, PSU sessions, the
// authentication log, pushed requests, consents with their authorization codes.
import { and, asc, desc, eq, gt, inArray, isNull, lt, or, type SQL, sql } from 'drizzle-orm';
import type { AccountType, PsuAccount } from '../server/protocol/bank.ts';
import type {
  AuthenticationEvent,
  AuthenticationEventFilter,
  AuthorizationRequest,
  AuthorizationStores,
  ConsentStore,
  GrantOutcome,
  PsuRecord,
  PsuSession,
  PsuSessionStore,
  PsuStore,
  PushedRequestStore,
} from '../server/protocol/psu/ports.ts';
import type { Commit } from './group-commit.ts';
import { authenticationEvent } from './rows.ts';
import {
  accounts,
  authenticationEvents,
  authorizationCodes,
  consents,
  grants,
  paymentAuthorizations,
  psuSessions,
  psus,
  pushedRequests,
  scaRecords,
} from './schema.ts';
import { type Secrets, totpRecordId } from './secrets.ts';
import { type Db, planned } from './sqlite.ts';

/** The conditions of AuthenticationEventReader.list: a PSU's whole sessions, a client's events. */
function eventConditions(db: Db, filter: AuthenticationEventFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.psuId !== undefined) {
    const sessions = db
      .select({ sessionId: authenticationEvents.sessionId })
      .from(authenticationEvents)
      .where(eq(authenticationEvents.psuId, filter.psuId));
    conditions.push(inArray(authenticationEvents.sessionId, sessions));
  }
  if (filter.clientId !== undefined) conditions.push(eq(authenticationEvents.clientId, filter.clientId));
  return conditions;
}

/** Rolls the approval back when the payment it binds is no longer what the PSU saw. */
class PaymentGone extends Error {}

// The queries of every PSU journey are built and compiled once (drizzle `.prepare()` with
// placeholders): building a query's SQL each time was a tenth of a code flow's CPU.
const p = sql.placeholder;

export function createAuthorizationStores(db: Db, commit: Commit, secrets: Secrets): AuthorizationStores {
  const psuStore = sqlitePsuStore(db, commit, secrets);
  const log = eventLog(db);
  return {
    psus: psuStore,
    accounts: { accountsOf: (psuId) => psuStore.listAccounts(psuId) },
    sessions: sessionStore(db, commit, log),
    events: {
      record(event) {
        return commit(() => log([event]));
      },
      async list(filter) {
        return db
          .select()
          .from(authenticationEvents)
          .where(and(...eventConditions(db, filter)))
          .orderBy(asc(authenticationEvents.occurredAt))
          .all()
          .map(authenticationEvent);
      },
    },
    pushedRequests: pushedRequestStore(db, commit),
    consents: consentStore(db, commit, log),
  };
}

/** Writes authentication events; called inside a commit, with the write they belong to. */
type EventLog = (events: AuthenticationEvent[]) => void;

function eventLog(db: Db): EventLog {
  const insertEvent = db
    .insert(authenticationEvents)
    .values({
      id: p('id'),
      sessionId: p('sessionId'),
      occurredAt: p('occurredAt'),
      event: p('event'),
      psuId: p('psuId'),
      clientId: p('clientId'),
      detail: p('detail'),
    })
    .prepare();
  return (events) => {
    for (const event of events) {
      insertEvent.run({
        id: globalThis.crypto.randomUUID(),
        sessionId: event.sessionId,
        occurredAt: event.occurredAt,
        event: event.event,
        psuId: event.psuId ?? null,
        clientId: event.clientId ?? null,
        detail: event.detail ? JSON.stringify(event.detail) : null,
      });
    }
  };
}

type PsuRow = typeof psus.$inferSelect;
type AccountRow = typeof accounts.$inferSelect;

const toPsu = (row: PsuRow, secrets: Secrets): PsuRecord => ({
  psuId: row.psuId,
  username: row.username,
  displayName: row.displayName,
  passwordHash: row.passwordHash,
  totpSecret: row.totpSecret === null ? null : secrets.open(row.totpSecret, totpRecordId(row.psuId)),
  status: row.status as PsuRecord['status'],
  sandbox: row.sandbox === 1,
  failedAttempts: row.failedAttempts,
  lockedUntil: row.lockedUntil,
  lastTotpStep: row.lastTotpStep,
  createdAt: row.createdAt,
});

const toAccount = (row: AccountRow): PsuAccount => ({
  accountId: row.accountId,
  psuId: row.psuId,
  iban: row.iban,
  name: row.name,
  type: row.type as AccountType,
  currency: row.currency,
});

function sqlitePsuStore(db: Db, commit: Commit, secrets: Secrets): PsuStore {
  const toRecord = (row: PsuRow) => toPsu(row, secrets);
  const findPsu = db
    .select()
    .from(psus)
    .where(eq(psus.psuId, p('psuId')))
    .prepare();
  const findPsuByUsername = db
    .select()
    .from(psus)
    .where(eq(psus.username, p('username')))
    .prepare();
  // Every sandbox consent page lists the personas.
  const listPsus = db
    .select()
    .from(psus)
    .where(eq(psus.sandbox, planned('sandbox')))
    .orderBy(asc(psus.createdAt), asc(psus.username))
    .prepare();
  const accountsOfPsu = db
    .select()
    .from(accounts)
    .where(eq(accounts.psuId, planned('psuId')))
    .orderBy(asc(accounts.psuId), asc(accounts.createdAt), asc(accounts.accountId))
    .prepare();
  return {
    insert(psu, accountList = []) {
      return commit(() => {
        db.transaction((tx) => {
          tx.insert(psus)
            .values({
              psuId: psu.psuId,
              username: psu.username,
              displayName: psu.displayName,
              passwordHash: psu.passwordHash,
              totpSecret: psu.totpSecret === null ? null : secrets.seal(psu.totpSecret, totpRecordId(psu.psuId)),
              status: psu.status,
              sandbox: psu.sandbox ? 1 : 0,
              failedAttempts: psu.failedAttempts,
              lockedUntil: psu.lockedUntil,
              lastTotpStep: psu.lastTotpStep,
              createdAt: psu.createdAt,
            })
            .run();
          // Listed in the order given.
          for (const [index, account] of accountList.entries()) {
            tx.insert(accounts)
              .values({ ...account, createdAt: psu.createdAt + index })
              .run();
          }
        });
      });
    },
    async find(psuId) {
      const row = findPsu.get({ psuId });
      return row && toRecord(row);
    },
    async findByUsername(username) {
      const row = findPsuByUsername.get({ username });
      return row && toRecord(row);
    },
    async list(filter = {}) {
      if (filter.sandbox !== undefined) return listPsus.all({ sandbox: filter.sandbox ? 1 : 0 }).map(toRecord);
      return db.select().from(psus).orderBy(asc(psus.createdAt), asc(psus.username)).all().map(toRecord);
    },
    setStatus(psuId, status) {
      return commit(() => {
        return db.update(psus).set({ status }).where(eq(psus.psuId, psuId)).run().changes === 1;
      });
    },
    resetTotp(psuId, totpSecret) {
      return commit(() => {
        const result = db
          .update(psus)
          .set({
            totpSecret: secrets.seal(totpSecret, totpRecordId(psuId)),
            lastTotpStep: null,
            failedAttempts: 0,
            lockedUntil: null,
          })
          .where(eq(psus.psuId, psuId))
          .run();
        return result.changes === 1;
      });
    },
    recordFailure(psuId, now, policy) {
      return commit(() => {
        // One statement: a block that has run out restarts the count at 1; reaching the limit blocks.
        const expired = sql`(${psus.lockedUntil} is not null and ${psus.lockedUntil} <= ${now})`;
        const next = sql`(case when ${expired} then 1 else ${psus.failedAttempts} + 1 end)`;
        const row = db
          .update(psus)
          .set({
            failedAttempts: next,
            lockedUntil: sql`(case when ${next} >= ${policy.maxAttempts} then ${now + policy.lockMs} when ${expired} then null else ${psus.lockedUntil} end)`,
          })
          .where(eq(psus.psuId, psuId))
          .returning({ failedAttempts: psus.failedAttempts, lockedUntil: psus.lockedUntil })
          .get();
        return row ?? { failedAttempts: 0, lockedUntil: null };
      });
    },
    recordSuccess(psuId) {
      return commit(() => {
        db.update(psus).set({ failedAttempts: 0, lockedUntil: null }).where(eq(psus.psuId, psuId)).run();
      });
    },
    acceptTotpStep(psuId, step) {
      return commit(() => {
        const result = db
          .update(psus)
          .set({ lastTotpStep: step })
          .where(and(eq(psus.psuId, psuId), or(isNull(psus.lastTotpStep), lt(psus.lastTotpStep, step))))
          .run();
        return result.changes === 1;
      });
    },
    addAccount(account) {
      return commit(() => {
        db.insert(accounts).values(account).run();
      });
    },
    async listAccounts(psuId) {
      if (psuId !== undefined) return accountsOfPsu.all({ psuId }).map(toAccount);
      return db
        .select()
        .from(accounts)
        .orderBy(asc(accounts.psuId), asc(accounts.createdAt), asc(accounts.accountId))
        .all()
        .map(toAccount);
    },
    remove(psuId, at) {
      return commit(() =>
        db.transaction((tx) => {
          if (tx.delete(psus).where(eq(psus.psuId, psuId)).run().changes !== 1) return undefined;
          tx.delete(accounts).where(eq(accounts.psuId, psuId)).run();
          const active = tx
            .select({ consentId: consents.consentId })
            .from(consents)
            .where(and(eq(consents.psuId, psuId), isNull(consents.revokedAt)))
            .all()
            .map((c) => c.consentId);
          withdrawConsents(tx, active, at);
          return { consentsRevoked: active.length };
        }),
      );
    },
    removeAccount(accountId, at) {
      return commit(() =>
        db.transaction((tx) => {
          const account = tx.select().from(accounts).where(eq(accounts.accountId, accountId)).get();
          if (!account) return undefined;
          tx.delete(accounts).where(eq(accounts.accountId, accountId)).run();
          const naming = tx
            .select({ consentId: consents.consentId, accountIds: consents.accountIds })
            .from(consents)
            .where(and(eq(consents.psuId, account.psuId), isNull(consents.revokedAt)))
            .all()
            .filter((c) => (JSON.parse(c.accountIds) as string[]).includes(accountId))
            .map((c) => c.consentId);
          withdrawConsents(tx, naming, at);
          return { consentsRevoked: naming.length };
        }),
      );
    },
  };
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The bank withdraws consents: their grants are revoked in the same transaction. */
function withdrawConsents(tx: Tx, consentIds: string[], at: number): void {
  for (const consentId of consentIds) {
    tx.update(consents).set({ revokedAt: at, revokedBy: 'bank' }).where(eq(consents.consentId, consentId)).run();
    tx.update(grants)
      .set({ revokedAt: at, revokedReason: 'consent_revoked' })
      .where(and(eq(grants.consentId, consentId), isNull(grants.revokedAt)))
      .run();
  }
}

function sessionStore(db: Db, commit: Commit, log: EventLog): PsuSessionStore {
  const insertSession = db
    .insert(psuSessions)
    .values({
      sessionDigest: p('sessionDigest'),
      sessionId: p('sessionId'),
      authorizationRequest: p('authorizationRequest'),
      psuId: p('psuId'),
      stage: p('stage'),
      csrfToken: p('csrfToken'),
      authenticatedAt: p('authenticatedAt'),
      lastSeenAt: p('lastSeenAt'),
      expiresAt: p('expiresAt'),
      createdAt: p('createdAt'),
    })
    .prepare();
  const findSession = db
    .select()
    .from(psuSessions)
    .where(eq(psuSessions.sessionDigest, p('sessionDigest')))
    .prepare();
  return {
    create(sessionDigest, session, events = []) {
      return commit(() => {
        insertSession.run({
          sessionDigest,
          sessionId: session.sessionId,
          authorizationRequest: JSON.stringify(session.request),
          psuId: session.psuId,
          stage: session.stage,
          csrfToken: session.csrfToken,
          authenticatedAt: session.authenticatedAt,
          lastSeenAt: session.lastSeenAt,
          expiresAt: session.expiresAt,
          createdAt: session.createdAt,
        });
        log(events);
      });
    },
    async find(sessionDigest) {
      const row = findSession.get({ sessionDigest });
      if (!row) return undefined;
      return {
        sessionId: row.sessionId,
        request: JSON.parse(row.authorizationRequest) as AuthorizationRequest,
        psuId: row.psuId,
        stage: row.stage as PsuSession['stage'],
        csrfToken: row.csrfToken,
        authenticatedAt: row.authenticatedAt,
        lastSeenAt: row.lastSeenAt,
        expiresAt: row.expiresAt,
        createdAt: row.createdAt,
      };
    },
    advance(sessionDigest, fromStage, changes, events = []) {
      return commit(() => {
        const result = db
          .update(psuSessions)
          .set(changes)
          .where(and(eq(psuSessions.sessionDigest, sessionDigest), eq(psuSessions.stage, fromStage)))
          .run();
        if (result.changes !== 1) return false;
        log(events);
        return true;
      });
    },
  };
}

function pushedRequestStore(db: Db, commit: Commit): PushedRequestStore {
  return {
    insert(requestUriDigest, request, createdAt, expiresAt) {
      return commit(() => {
        db.insert(pushedRequests)
          .values({
            requestUriDigest,
            clientId: request.clientId,
            parameters: JSON.stringify(request),
            createdAt,
            expiresAt,
          })
          .run();
      });
    },
    consume(requestUriDigest, clientId, now) {
      return commit(() => {
        const row = db
          .update(pushedRequests)
          .set({ consumedAt: now })
          .where(
            and(
              eq(pushedRequests.requestUriDigest, requestUriDigest),
              eq(pushedRequests.clientId, clientId),
              isNull(pushedRequests.consumedAt),
              gt(pushedRequests.expiresAt, now),
            ),
          )
          .returning({ parameters: pushedRequests.parameters })
          .get();
        return row ? (JSON.parse(row.parameters) as AuthorizationRequest) : undefined;
      });
    },
  };
}

function consentStore(db: Db, commit: Commit, log: EventLog): ConsentStore {
  const endSession = db
    .update(psuSessions)
    .set({ stage: 'done', psuId: sql`${p('psuId')}` })
    .where(and(eq(psuSessions.sessionDigest, p('sessionDigest')), eq(psuSessions.stage, p('fromStage'))))
    .prepare();
  const insertConsent = db
    .insert(consents)
    .values({
      consentId: p('consentId'),
      clientId: p('clientId'),
      psuId: p('psuId'),
      scope: p('scope'),
      accountIds: p('accountIds'),
      createdAt: p('createdAt'),
      expiresAt: p('expiresAt'),
      revokedAt: null,
      authorizationId: p('authorizationId'),
    })
    .prepare();
  const insertCode = db
    .insert(authorizationCodes)
    .values({
      codeDigest: p('codeDigest'),
      clientId: p('clientId'),
      redirectUri: p('redirectUri'),
      codeChallenge: p('codeChallenge'),
      consentId: p('consentId'),
      psuId: p('psuId'),
      scope: p('scope'),
      createdAt: p('createdAt'),
      expiresAt: p('expiresAt'),
      consumedAt: null,
      grantId: null,
    })
    .prepare();
  return {
    grant({ consent, code, sca, payment }, session, events = []) {
      // One write of the group commit, atomic in its own savepoint: PaymentGone thrown from it
      // undoes the session's move too.
      return commit((): GrantOutcome => {
        const ended = endSession.run({
          psuId: consent.psuId,
          sessionDigest: session.sessionDigest,
          fromStage: session.fromStage,
        });
        if (ended.changes !== 1) return 'session';
        if (payment) {
          // Dynamic linking: authorised only if still awaiting, unexpired and with the hash the PSU saw.
          const bound = db
            .update(paymentAuthorizations)
            .set({
              status: 'authorised',
              debtorIban: payment.debtorAccount.iban,
              psuId: payment.psuId,
              scaAt: payment.scaAt,
              updatedAt: consent.createdAt,
            })
            .where(
              and(
                eq(paymentAuthorizations.authorizationId, payment.authorizationId),
                eq(paymentAuthorizations.status, 'awaiting_authorisation'),
                eq(paymentAuthorizations.paymentHash, payment.paymentHash),
                gt(paymentAuthorizations.expiresAt, consent.createdAt),
              ),
            )
            .run();
          if (bound.changes !== 1) throw new PaymentGone();
        }
        insertConsent.run({
          ...consent,
          accountIds: JSON.stringify(consent.accountIds),
          authorizationId: consent.authorizationId ?? null,
        });
        insertCode.run({ ...code });
        if (sca) {
          db.insert(scaRecords)
            .values({ psuId: consent.psuId, clientId: consent.clientId, lastScaAt: sca.at })
            .onConflictDoUpdate({ target: [scaRecords.psuId, scaRecords.clientId], set: { lastScaAt: sca.at } })
            .run();
        }
        log(events);
        return 'granted';
      }).catch((err: unknown) => {
        if (err instanceof PaymentGone) return 'payment';
        throw err;
      });
    },
    async list(filter) {
      const conditions = [
        filter.psuId ? eq(consents.psuId, filter.psuId) : undefined,
        filter.clientId ? eq(consents.clientId, filter.clientId) : undefined,
      ].filter((c) => c !== undefined);
      const rows = db
        .select()
        .from(consents)
        .where(conditions.length > 0 ? and(...conditions) : undefined)
        .orderBy(desc(consents.createdAt))
        .all();
      return rows.map(({ authorizationId, ...row }) => ({
        ...row,
        accountIds: JSON.parse(row.accountIds) as string[],
        ...(authorizationId ? { authorizationId } : {}),
      }));
    },
    revoke(consentId, at, by) {
      return commit(() => {
        return db.transaction((tx) => {
          const withdrawn = tx
            .update(consents)
            .set({ revokedAt: at, revokedBy: by })
            .where(and(eq(consents.consentId, consentId), isNull(consents.revokedAt)))
            .run();
          if (withdrawn.changes !== 1) return false;
          tx.update(grants)
            .set({ revokedAt: at, revokedReason: 'consent_revoked' })
            .where(and(eq(grants.consentId, consentId), isNull(grants.revokedAt)))
            .run();
          return true;
        });
      });
    },
  };
}
