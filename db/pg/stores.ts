// The PostgreSQL implementations of every storage port: the same contract as the SQLite stores
// (test/stores/ runs one suite against both). Each write is one transaction of its own, committed
// before the method resolves: the pool runs many at once, so PostgreSQL needs no group commit to
// share an fsync (its own WAL flush already groups concurrent commits; see docs/PERFORMANCE.md).
// Every read-modify-write is a conditional UPDATE checked by the rows it returns; under READ
// COMMITTED a concurrent UPDATE of the same row waits for the first and re-checks its WHERE on the
// committed row, so exactly one of two racing redemptions wins. Transactions that change a cached
// row NOTIFY the other instances from inside the transaction (change-feed.ts).

import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, ne, or, type SQL, sql } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import type { AccountType, PsuAccount } from '../../server/protocol/bank.ts';
import type {
  RetireOutcome,
  SecretStore,
  SigningKeyStatus,
  SigningKeyStore,
  SigningKeySummary,
  StoredSigningKey,
} from '../../server/protocol/keys/ports.ts';
import type { CheckResult, HealthProbe, PurgeStore, StorageObserver } from '../../server/protocol/operations/ports.ts';
import type {
  AuthenticationEvent,
  AuthorizationRequest,
  AuthorizationStores,
  ConsentStore,
  GrantOutcome,
  PsuRecord,
  PsuSession,
  PsuSessionStore,
  PsuStore,
  PushedRequestStore,
} from '../../server/protocol/psu/ports.ts';
import type {
  AuditEvent,
  ClientAdministration,
  ClientRecord,
  ClientStore,
  ClientView,
  OperatorActor,
} from '../../server/protocol/registration/ports.ts';
import { isSealed, type SecretSealer } from '../../server/protocol/secret-sealer.ts';
import type {
  AuthorizationCodeStore,
  GrantRecord,
  GrantStore,
  ResourceServerRecord,
  ResourceServerStore,
  RevokedAccessTokenStore,
} from '../../server/protocol/token/ports.ts';
import { CACHE_NAMES, type ChangeFeed, NOTIFY_CHANNEL } from '../change-feed.ts';
import { createReadCaches, type ReadCache, type ReadCaches } from '../read-cache.ts';
import { authenticationEvent, clientRow, consentState } from '../rows.ts';
import { type Secrets, secretsWith, signingKeyRecordId, totpRecordId } from '../secrets.ts';
import type { Stores } from '../stores.ts';
import { type BatchedWrites, batchedWrites } from './batched-writes.ts';
import * as schema from './schema.ts';
import { postgresPaymentAuthorizationStore } from './stores-payments.ts';
import { postgresPermissionStores } from './stores-permissions.ts';

const {
  accounts,
  auditEvents,
  authenticationEvents,
  authorizationCodes,
  clients,
  consents,
  grants,
  healthProbe,
  paymentAuthorizations,
  psuSessions,
  psus,
  pushedRequests,
  resourceServers,
  revokedAccessTokens,
  scaRecords,
  signingKeys,
} = schema;

export type PgDb = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };
type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];

/** Tells the other instances that `key` of `cache` changed; delivered when `tx` commits. */
async function notify(tx: Tx, cache: string, key: string): Promise<void> {
  await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${`${cache}:${key}`})`);
}

/** A query drizzle built, as a postgres.js query that can join a batch (batched-writes.ts). */
function statement(db: PgDb, query: { toSQL(): { sql: string; params: unknown[] } }) {
  const { sql: text, params } = query.toSQL();
  return db.$client.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
    prepare: true,
  }) as unknown as postgres.PendingQuery<postgres.Row[]>;
}

const notification = (db: PgDb, cache: string, key: string) =>
  db.$client`select pg_notify(${NOTIFY_CHANNEL}, ${`${cache}:${key}`})`;

export function createPostgresStores(
  db: PgDb,
  feed: ChangeFeed,
  options: { pendingMigrations: () => Promise<number>; observer?: StorageObserver; sealer?: SecretSealer },
): Stores {
  const secrets = secretsWith(options.sealer);
  const caches = createReadCaches(feed, { observer: options.observer });
  const psuStore = postgresPsuStore(db, secrets);
  const write = batchedWrites(db.$client, options.observer);
  const clientCache = caches.create<ClientRecord | null>(CACHE_NAMES.clients, CLIENT_CACHE_SIZE);
  return {
    signingKeys: signingKeyStore(db, secrets),
    secrets: postgresSecretStore(db, options.sealer),
    clients: clientStore(db, clientCache, write),
    clientAdministration: clientAdministration(db, clientCache),
    authorizationCodes: authorizationCodeStore(db, write),
    grants: grantStore(db),
    revokedAccessTokens: revokedAccessTokenStore(db, caches, write),
    resourceServers: resourceServerStore(db, caches),
    purge: purgeStore(db),
    payments: postgresPaymentAuthorizationStore(db),
    permissions: postgresPermissionStores(db),
    authorization: {
      psus: psuStore,
      accounts: { accountsOf: (psuId) => psuStore.listAccounts(psuId) },
      sessions: sessionStore(db, write),
      events: {
        async record(event) {
          await write(() => [eventsInsert(db, [event])]);
        },
        async list(filter) {
          const conditions: SQL[] = [];
          if (filter.psuId !== undefined) {
            const sessions = db
              .select({ sessionId: authenticationEvents.sessionId })
              .from(authenticationEvents)
              .where(eq(authenticationEvents.psuId, filter.psuId));
            conditions.push(inArray(authenticationEvents.sessionId, sessions));
          }
          if (filter.clientId !== undefined) conditions.push(eq(authenticationEvents.clientId, filter.clientId));
          const rows = await db
            .select()
            .from(authenticationEvents)
            .where(and(...conditions))
            .orderBy(asc(authenticationEvents.occurredAt));
          return rows.map(authenticationEvent);
        },
      },
      pushedRequests: pushedRequestStore(db),
      consents: consentStore(db, write),
    } satisfies AuthorizationStores,
    health: postgresHealth(db, options.pendingMigrations),
  };
}

const failed = (err: unknown): CheckResult =>
  `failed: ${err && typeof err === 'object' && 'code' in err ? String(err.code) : err instanceof Error ? err.message : String(err)}`;

/** The readiness checks as on SQLite; page integrity is PostgreSQL's own concern (checksums, WAL). */
function postgresHealth(db: PgDb, pendingMigrations: () => Promise<number>): HealthProbe {
  const check = async (run: () => Promise<CheckResult | undefined>): Promise<CheckResult> => {
    try {
      return (await run()) ?? 'ok';
    } catch (err) {
      return failed(err);
    }
  };
  return {
    async ping() {
      await db.execute(sql`select 1`);
    },
    async readiness() {
      const [read, write, migrations] = await Promise.all([
        check(async () => {
          await db.select({ kid: signingKeys.kid }).from(signingKeys).limit(1);
          return undefined;
        }),
        check(async () => {
          const at = Date.now();
          await db
            .insert(healthProbe)
            .values({ id: 1, checkedAt: at })
            .onConflictDoUpdate({ target: healthProbe.id, set: { checkedAt: at } });
          return undefined;
        }),
        check(async () => {
          const missing = await pendingMigrations();
          return missing > 0 ? `failed: ${missing} migration(s) not applied` : undefined;
        }),
      ]);
      return { read, write, migrations, integrity: 'ok' };
    },
  };
}

/** pg_advisory_xact_lock key of the signing keys' writes: "psd2keys" as a 64-bit integer. */
const SIGNING_KEY_LOCK = '8103657139316680051';

function signingKeyStore(db: PgDb, secrets: Secrets): SigningKeyStore {
  type Row = typeof signingKeys.$inferSelect;
  const summary = (row: Row): SigningKeySummary => ({
    kid: row.kid,
    alg: row.alg,
    publicJwk: JSON.parse(row.publicJwk),
    status: row.status as SigningKeyStatus,
    createdAt: row.createdAt,
    deactivatedAt: row.deactivatedAt,
  });
  const insertRow = (tx: Tx, key: StoredSigningKey, status: SigningKeyStatus) =>
    tx.insert(signingKeys).values({
      kid: key.kid,
      alg: key.alg,
      publicJwk: JSON.stringify(key.publicJwk),
      privateJwk: secrets.seal(JSON.stringify(key.privateJwk), signingKeyRecordId(key.kid)),
      status,
      createdAt: key.createdAt,
      deactivatedAt: null,
    });
  const deactivate = (tx: Tx, now: number) =>
    tx.update(signingKeys).set({ status: 'published', deactivatedAt: now }).where(eq(signingKeys.status, 'active'));
  /** Every write that decides which key is active runs under one advisory lock: instances queue. */
  const locked = <T>(run: (tx: Tx) => Promise<T>) =>
    db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK}::bigint)`);
      return run(tx);
    });
  const newestFirst = [desc(signingKeys.createdAt), asc(signingKeys.kid)];
  return {
    async listPublished() {
      const rows = await db
        .select()
        .from(signingKeys)
        .where(ne(signingKeys.status, 'retired'))
        .orderBy(...newestFirst);
      return rows.map(
        (row): StoredSigningKey => ({
          ...summary(row),
          privateJwk: JSON.parse(secrets.open(row.privateJwk, signingKeyRecordId(row.kid))),
        }),
      );
    },
    async list() {
      return (
        await db
          .select()
          .from(signingKeys)
          .orderBy(...newestFirst)
      ).map(summary);
    },
    async ensure(candidates, activeAlg, now) {
      await locked(async (tx) => {
        const published = await tx.select().from(signingKeys).where(ne(signingKeys.status, 'retired'));
        for (const candidate of candidates) {
          if (!published.some((k) => k.alg === candidate.alg)) await insertRow(tx, candidate, 'published');
        }
        const [active] = await tx.select().from(signingKeys).where(eq(signingKeys.status, 'active'));
        if (active?.alg === activeAlg) return;
        const [next] = await tx
          .select()
          .from(signingKeys)
          .where(and(eq(signingKeys.status, 'published'), eq(signingKeys.alg, activeAlg)))
          .orderBy(...newestFirst)
          .limit(1);
        if (!next) throw new Error(`no ${activeAlg} signing key to activate`);
        await deactivate(tx, now);
        await tx.update(signingKeys).set({ status: 'active' }).where(eq(signingKeys.kid, next.kid));
      });
    },
    async insertActive(key, now) {
      await locked(async (tx) => {
        await deactivate(tx, now);
        await insertRow(tx, key, 'active');
      });
    },
    retire(kid, inactiveBefore, now) {
      return locked(async (tx): Promise<RetireOutcome> => {
        const [row] = await tx.select().from(signingKeys).where(eq(signingKeys.kid, kid));
        if (!row || row.status === 'retired') return 'unknown';
        if (row.status === 'active') return 'active';
        if (row.deactivatedAt !== null && row.deactivatedAt > inactiveBefore) return 'too_recent';
        await tx
          .update(signingKeys)
          .set({ status: 'retired', deactivatedAt: row.deactivatedAt ?? now })
          .where(eq(signingKeys.kid, kid));
        return 'retired';
      });
    },
    async version() {
      const [row] = await db
        .select({
          v: sql<
            string | null
          >`string_agg(${signingKeys.kid} || ':' || ${signingKeys.status}, ',' order by ${signingKeys.kid})`,
        })
        .from(signingKeys);
      return row?.v ?? '';
    },
  };
}

interface SecretColumn {
  recordId: string;
  value: string;
  write(tx: Tx, value: string): Promise<unknown>;
}

/** Every secret column of every row (as db/secrets.ts on SQLite), read inside `tx`, rows locked. */
async function secretColumns(tx: Tx): Promise<SecretColumn[]> {
  const keys = await tx.select({ kid: signingKeys.kid, value: signingKeys.privateJwk }).from(signingKeys).for('update');
  const totps = await tx
    .select({ psuId: psus.psuId, value: psus.totpSecret })
    .from(psus)
    .where(isNotNull(psus.totpSecret))
    .for('update');
  return [
    ...keys.map((row) => ({
      recordId: signingKeyRecordId(row.kid),
      value: row.value,
      write: (t: Tx, value: string) =>
        t.update(signingKeys).set({ privateJwk: value }).where(eq(signingKeys.kid, row.kid)),
    })),
    ...totps.map((row) => ({
      recordId: totpRecordId(row.psuId),
      value: row.value as string,
      write: (t: Tx, value: string) => t.update(psus).set({ totpSecret: value }).where(eq(psus.psuId, row.psuId)),
    })),
  ];
}

function postgresSecretStore(db: PgDb, sealer: SecretSealer | undefined): SecretStore {
  const secrets = secretsWith(sealer);
  return {
    sealPlaintext() {
      return db.transaction(async (tx) => {
        let sealed = 0;
        for (const column of await secretColumns(tx)) {
          if (isSealed(column.value)) continue;
          await column.write(tx, secrets.seal(column.value, column.recordId));
          sealed++;
        }
        return sealed;
      });
    },
    reseal(next) {
      return db.transaction(async (tx) => {
        const columns = await secretColumns(tx);
        // Everything is opened before anything is written: one that does not open aborts it all.
        const plain = columns.map((column) => secrets.open(column.value, column.recordId));
        for (const [i, column] of columns.entries())
          await column.write(tx, next.seal(plain[i] as string, column.recordId));
        return columns.length;
      });
    },
    sealedUnder() {
      return db.transaction(async (tx) => {
        const counts = new Map<string, number>();
        for (const column of await secretColumns(tx)) {
          const id = isSealed(column.value) ? (column.value.split(':')[1] ?? '') : 'plaintext';
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        return Object.fromEntries(counts);
      });
    },
  };
}

const auditInsert = (db: PgDb | Tx, event: AuditEvent) =>
  db.insert(auditEvents).values({
    id: globalThis.crypto.randomUUID(),
    occurredAt: event.occurredAt,
    action: event.action,
    clientId: event.clientId,
    actorSubjectDn: event.actorSubjectDn,
    actorThumbprint: event.actorThumbprint,
    detail: event.detail ? JSON.stringify(event.detail) : null,
  });

async function writeAudit(tx: Tx, event: AuditEvent): Promise<void> {
  await auditInsert(tx, event);
}

const CLIENT_CACHE_SIZE = 10_000;

function clientStore(db: PgDb, cache: ReadCache<ClientRecord | null>, write: BatchedWrites): ClientStore {
  const live = (clientId: string) => and(eq(clients.clientId, clientId), isNull(clients.deletedAt));
  const findLive = db
    .select()
    .from(clients)
    .where(and(eq(clients.clientId, sql.placeholder('clientId')), isNull(clients.deletedAt)))
    .prepare('find_live_client');
  return {
    async insert(record, event) {
      // The client, its audit event and the notification: one write, batched with the turn's others.
      await write(() => [
        statement(db, db.insert(clients).values(clientRow(record))),
        statement(db, auditInsert(db, event)),
        // Another instance may have cached "no such client" while the id was being chosen.
        notification(db, CACHE_NAMES.clients, record.clientId),
      ]);
      cache.delete(record.clientId);
    },
    async find(clientId) {
      const found = await cache.load(clientId, async () => {
        const [row] = await findLive.execute({ clientId });
        if (!row?.registrationTokenDigest) return null;
        return {
          clientId: row.clientId,
          organizationId: row.organizationId,
          organizationName: row.organizationName,
          metadata: JSON.parse(row.metadata) as ClientRecord['metadata'],
          registrationTokenDigest: row.registrationTokenDigest,
          issuedAt: row.issuedAt,
          updatedAt: row.updatedAt,
          suspendedAt: row.suspendedAt,
        };
      });
      return found ?? undefined;
    },
    async replace(clientId, expectedTokenDigest, changes, event) {
      cache.delete(clientId);
      const replaced = await db.transaction(async (tx) => {
        const rows = await tx
          .update(clients)
          .set({
            metadata: JSON.stringify(changes.metadata),
            subjectDn: changes.metadata.tls_client_auth_subject_dn,
            organizationName: changes.organizationName ?? null,
            registrationTokenDigest: changes.registrationTokenDigest,
            updatedAt: changes.updatedAt,
          })
          .where(and(live(clientId), eq(clients.registrationTokenDigest, expectedTokenDigest)))
          .returning({ clientId: clients.clientId });
        if (rows.length !== 1) return false;
        await writeAudit(tx, event);
        await notify(tx, CACHE_NAMES.clients, clientId);
        return true;
      });
      cache.delete(clientId);
      return replaced;
    },
    async delete(clientId, expectedTokenDigest, event) {
      cache.delete(clientId);
      const deleted = await db.transaction(async (tx) => {
        const rows = await tx
          .update(clients)
          .set({ deletedAt: event.occurredAt, registrationTokenDigest: null, updatedAt: event.occurredAt })
          .where(and(live(clientId), eq(clients.registrationTokenDigest, expectedTokenDigest)))
          .returning({ clientId: clients.clientId });
        if (rows.length !== 1) return false;
        // Its refresh tokens die with it, in the same commit (as on SQLite).
        await tx
          .update(grants)
          .set({ revokedAt: event.occurredAt, revokedReason: 'client_deleted' })
          .where(and(eq(grants.clientId, clientId), isNull(grants.revokedAt)));
        await writeAudit(tx, event);
        await notify(tx, CACHE_NAMES.clients, clientId);
        return true;
      });
      cache.delete(clientId);
      return deleted;
    },
  };
}

const toView = (row: typeof clients.$inferSelect): ClientView => ({
  clientId: row.clientId,
  organizationId: row.organizationId,
  organizationName: row.organizationName,
  metadata: JSON.parse(row.metadata) as ClientView['metadata'],
  issuedAt: row.issuedAt,
  updatedAt: row.updatedAt,
  suspendedAt: row.suspendedAt,
  deletedAt: row.deletedAt,
});

function clientAdministration(db: PgDb, cache: ReadCache<ClientRecord | null>): ClientAdministration {
  /** One change to the named clients that `apply` still selects, audited per client, in one transaction. */
  const change = async (
    clientIds: string[],
    actor: OperatorActor,
    action: AuditEvent['action'],
    apply: (tx: Tx, clientId: string) => Promise<boolean>,
  ) => {
    for (const clientId of clientIds) cache.delete(clientId);
    const changed = await db.transaction(async (tx) => {
      const done: string[] = [];
      for (const clientId of clientIds) {
        if (!(await apply(tx, clientId))) continue;
        await writeAudit(tx, { ...actor, action, clientId });
        await notify(tx, CACHE_NAMES.clients, clientId);
        done.push(clientId);
      }
      return done;
    });
    for (const clientId of clientIds) cache.delete(clientId);
    return changed;
  };
  const live = (clientId: string) => and(eq(clients.clientId, clientId), isNull(clients.deletedAt));
  const changedOne = async (rows: Promise<unknown[]>) => (await rows).length === 1;
  // Registration's question, asked on every registration: the organisation's suspended clients.
  const suspendedOf = db
    .select()
    .from(clients)
    .where(
      and(
        eq(clients.organizationId, sql.placeholder('organizationId')),
        isNotNull(clients.suspendedAt),
        isNull(clients.deletedAt),
      ),
    )
    .orderBy(asc(clients.issuedAt), asc(clients.clientId))
    .prepare('suspended_clients_of_organization');
  return {
    async list(filter = {}) {
      if (filter.organizationId && filter.suspended) {
        return (await suspendedOf.execute({ organizationId: filter.organizationId })).map(toView);
      }
      const rows = await db
        .select()
        .from(clients)
        .where(
          and(
            filter.organizationId ? eq(clients.organizationId, filter.organizationId) : undefined,
            filter.suspended ? and(isNotNull(clients.suspendedAt), isNull(clients.deletedAt)) : undefined,
          ),
        )
        .orderBy(asc(clients.issuedAt), asc(clients.clientId));
      return rows.map(toView);
    },
    async get(clientId) {
      const [row] = await db.select().from(clients).where(eq(clients.clientId, clientId));
      return row && toView(row);
    },
    suspend(clientIds, actor) {
      return change(clientIds, actor, 'client.suspended', (tx, clientId) =>
        changedOne(
          tx
            .update(clients)
            .set({ suspendedAt: actor.occurredAt, updatedAt: actor.occurredAt })
            .where(and(live(clientId), isNull(clients.suspendedAt)))
            .returning({ clientId: clients.clientId }),
        ),
      );
    },
    resume(clientIds, actor) {
      return change(clientIds, actor, 'client.resumed', (tx, clientId) =>
        changedOne(
          tx
            .update(clients)
            .set({ suspendedAt: null, updatedAt: actor.occurredAt })
            .where(and(live(clientId), isNotNull(clients.suspendedAt)))
            .returning({ clientId: clients.clientId }),
        ),
      );
    },
    remove(clientIds, actor) {
      return change(clientIds, actor, 'client.deleted', async (tx, clientId) => {
        const removed = await changedOne(
          tx
            .update(clients)
            .set({ deletedAt: actor.occurredAt, registrationTokenDigest: null, updatedAt: actor.occurredAt })
            .where(live(clientId))
            .returning({ clientId: clients.clientId }),
        );
        if (!removed) return false;
        await tx
          .update(grants)
          .set({ revokedAt: actor.occurredAt, revokedReason: 'client_deleted' })
          .where(and(eq(grants.clientId, clientId), isNull(grants.revokedAt)));
        return true;
      });
    },
    async auditTrail(clientId) {
      const rows = await db
        .select()
        .from(auditEvents)
        .where(eq(auditEvents.clientId, clientId))
        .orderBy(asc(auditEvents.occurredAt));
      return rows.map((row) => ({
        id: row.id,
        action: row.action as AuditEvent['action'],
        clientId: row.clientId ?? clientId,
        actorSubjectDn: row.actorSubjectDn,
        actorThumbprint: row.actorThumbprint,
        occurredAt: row.occurredAt,
        ...(row.detail ? { detail: JSON.parse(row.detail) as Record<string, unknown> } : {}),
      }));
    },
  };
}

function authorizationCodeStore(db: PgDb, write: BatchedWrites): AuthorizationCodeStore {
  const findCode = db
    .select()
    .from(authorizationCodes)
    .leftJoin(consents, eq(consents.consentId, authorizationCodes.consentId))
    .where(eq(authorizationCodes.codeDigest, sql.placeholder('codeDigest')))
    .prepare('find_authorization_code');
  return {
    async find(codeDigest) {
      const [row] = await findCode.execute({ codeDigest });
      if (!row) return undefined;
      return { code: row.authorization_codes, consent: consentState(row.consents) };
    },
    async redeem(codeDigest, grant, at) {
      // One statement, batched with the turn's other writes: the grant is written only if this
      // caller consumed the code. Racing redemptions wait for the row (or, in one batch, run one
      // after the other) and re-check `consumed_at is null`: one wins.
      const [rows] = await write(() => [
        db.$client`
        with consumed as (
          update authorization_codes set consumed_at = ${at}::bigint, grant_id = ${grant.grantId}::text
          where code_digest = ${codeDigest}::text and consumed_at is null and expires_at > ${at}::bigint
          returning 1
        ), granted as (
          insert into grants (grant_id, client_id, consent_id, psu_id, scope, refresh_token_digest,
            previous_refresh_token_digest, created_at, expires_at, revoked_at, revoked_reason)
          select ${grant.grantId}::text, ${grant.clientId}::text, ${grant.consentId}::text, ${grant.psuId}::text,
            ${grant.scope}::text, ${grant.refreshTokenDigest}::text, ${grant.previousRefreshTokenDigest}::text,
            ${grant.createdAt}::bigint, ${grant.expiresAt}::bigint, ${grant.revokedAt}::bigint,
            ${grant.revokedReason}::text
          where exists (select 1 from consumed)
        )
        select count(*)::int as won from consumed`,
      ]);
      return rows?.[0]?.won === 1;
    },
  };
}

function grantStore(db: PgDb): GrantStore {
  const findGrant = db
    .select()
    .from(grants)
    .leftJoin(consents, eq(consents.consentId, grants.consentId))
    .where(eq(grants.grantId, sql.placeholder('grantId')))
    .prepare('find_grant');
  return {
    async find(grantId) {
      const [row] = await findGrant.execute({ grantId });
      if (!row) return undefined;
      return { grant: row.grants satisfies GrantRecord, consent: consentState(row.consents) };
    },
    async rotateRefreshToken(grantId, presented, next) {
      const live = and(eq(grants.grantId, grantId), isNull(grants.revokedAt));
      const fromCurrent = await db
        .update(grants)
        .set({ refreshTokenDigest: next, previousRefreshTokenDigest: presented })
        .where(and(live, eq(grants.refreshTokenDigest, presented)))
        .returning({ grantId: grants.grantId });
      if (fromCurrent.length === 1) return true;
      const fromPrevious = await db
        .update(grants)
        .set({ refreshTokenDigest: next, previousRefreshTokenDigest: null })
        .where(and(live, eq(grants.previousRefreshTokenDigest, presented)))
        .returning({ grantId: grants.grantId });
      return fromPrevious.length === 1;
    },
    async revoke(grantId, reason, at) {
      const rows = await db
        .update(grants)
        .set({ revokedAt: at, revokedReason: reason })
        .where(and(eq(grants.grantId, grantId), isNull(grants.revokedAt)))
        .returning({ grantId: grants.grantId });
      return rows.length === 1;
    },
  };
}

const REVOKED_CACHE_SIZE = 100_000;

function revokedAccessTokenStore(db: PgDb, caches: ReadCaches, write: BatchedWrites): RevokedAccessTokenStore {
  const cache = caches.create<boolean>(CACHE_NAMES.revokedAccessTokens, REVOKED_CACHE_SIZE);
  const findRevoked = db
    .select({ jti: revokedAccessTokens.jti })
    .from(revokedAccessTokens)
    .where(eq(revokedAccessTokens.jti, sql.placeholder('jti')))
    .prepare('find_revoked_jti');
  return {
    async revoke(token, at) {
      await write(() => [
        statement(
          db,
          db
            .insert(revokedAccessTokens)
            .values({ jti: token.jti, clientId: token.clientId, expiresAt: token.expiresAt, revokedAt: at })
            .onConflictDoNothing(),
        ),
        notification(db, CACHE_NAMES.revokedAccessTokens, token.jti),
      ]);
      cache.set(token.jti, true);
    },
    isRevoked(jti) {
      return cache.load(jti, async () => (await findRevoked.execute({ jti })).length > 0);
    },
  };
}

const RESOURCE_SERVER_CACHE_SIZE = 1_000;

function resourceServerStore(db: PgDb, caches: ReadCaches): ResourceServerStore {
  const cache = caches.create<ResourceServerRecord | null>(CACHE_NAMES.resourceServers, RESOURCE_SERVER_CACHE_SIZE);
  return {
    async insert(record) {
      await db.transaction(async (tx) => {
        await tx.insert(resourceServers).values(record);
        await notify(tx, CACHE_NAMES.resourceServers, record.clientId);
      });
      cache.delete(record.clientId);
    },
    async find(clientId) {
      const found = await cache.load(clientId, async () => {
        const [row] = await db
          .select()
          .from(resourceServers)
          .where(and(eq(resourceServers.clientId, clientId), isNull(resourceServers.disabledAt)));
        return row ?? null;
      });
      return found ?? undefined;
    },
    list() {
      return db.select().from(resourceServers).orderBy(asc(resourceServers.createdAt));
    },
    async disable(clientId, at) {
      const disabled = await db.transaction(async (tx) => {
        const rows = await tx
          .update(resourceServers)
          .set({ disabledAt: at })
          .where(and(eq(resourceServers.clientId, clientId), isNull(resourceServers.disabledAt)))
          .returning({ clientId: resourceServers.clientId });
        if (rows.length !== 1) return false;
        await notify(tx, CACHE_NAMES.resourceServers, clientId);
        return true;
      });
      cache.delete(clientId);
      return disabled;
    },
  };
}

function purgeStore(db: PgDb): PurgeStore {
  return {
    purge(now, retentionMs) {
      const cutoff = now - retentionMs;
      return db.transaction(async (tx) => {
        const count = async (rows: Promise<unknown[]>) => (await rows).length;
        return {
          authorizationCodes: await count(
            tx
              .delete(authorizationCodes)
              .where(lt(authorizationCodes.expiresAt, now))
              .returning({ k: authorizationCodes.codeDigest }),
          ),
          revokedAccessTokens: await count(
            tx
              .delete(revokedAccessTokens)
              .where(lt(revokedAccessTokens.expiresAt, now))
              .returning({ k: revokedAccessTokens.jti }),
          ),
          grants: await count(
            tx
              .delete(grants)
              .where(or(lt(grants.expiresAt, cutoff), and(isNotNull(grants.revokedAt), lt(grants.revokedAt, cutoff))))
              .returning({ k: grants.grantId }),
          ),
          pushedRequests: await count(
            tx
              .delete(pushedRequests)
              .where(lt(pushedRequests.expiresAt, now))
              .returning({ k: pushedRequests.requestUriDigest }),
          ),
          psuSessions: await count(
            tx.delete(psuSessions).where(lt(psuSessions.expiresAt, now)).returning({ k: psuSessions.sessionDigest }),
          ),
        };
      });
    },
  };
}

// ---- The PSU side ----

const toPsu = (row: typeof psus.$inferSelect, secrets: Secrets): PsuRecord => ({
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

const toAccount = (row: typeof accounts.$inferSelect): PsuAccount => ({
  accountId: row.accountId,
  psuId: row.psuId,
  iban: row.iban,
  name: row.name,
  type: row.type as AccountType,
  currency: row.currency,
});

function postgresPsuStore(db: PgDb, secrets: Secrets): PsuStore {
  const toRecord = (row: typeof psus.$inferSelect) => toPsu(row, secrets);
  // The journey's reads (the sandbox page lists every persona with its accounts), built once.
  const findPsu = db
    .select()
    .from(psus)
    .where(eq(psus.psuId, sql.placeholder('psuId')))
    .prepare('find_psu');
  const listBySandbox = db
    .select()
    .from(psus)
    .where(eq(psus.sandbox, sql.placeholder('sandbox')))
    .orderBy(asc(psus.createdAt), asc(psus.username))
    .prepare('list_psus_by_sandbox');
  const accountsOfPsu = db
    .select()
    .from(accounts)
    .where(eq(accounts.psuId, sql.placeholder('psuId')))
    .orderBy(asc(accounts.psuId), asc(accounts.createdAt), asc(accounts.accountId))
    .prepare('accounts_of_psu');
  return {
    async insert(psu, accountList = []) {
      await db.transaction(async (tx) => {
        await tx.insert(psus).values({
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
        });
        // Listed in the order given.
        for (const [index, account] of accountList.entries()) {
          await tx.insert(accounts).values({ ...account, createdAt: psu.createdAt + index });
        }
      });
    },
    async find(psuId) {
      const [row] = await findPsu.execute({ psuId });
      return row && toRecord(row);
    },
    async findByUsername(username) {
      const [row] = await db.select().from(psus).where(eq(psus.username, username));
      return row && toRecord(row);
    },
    async list(filter = {}) {
      const rows =
        filter.sandbox === undefined
          ? await db.select().from(psus).orderBy(asc(psus.createdAt), asc(psus.username))
          : await listBySandbox.execute({ sandbox: filter.sandbox ? 1 : 0 });
      return rows.map(toRecord);
    },
    async setStatus(psuId, status) {
      const rows = await db.update(psus).set({ status }).where(eq(psus.psuId, psuId)).returning({ psuId: psus.psuId });
      return rows.length === 1;
    },
    async resetTotp(psuId, totpSecret) {
      const rows = await db
        .update(psus)
        .set({
          totpSecret: secrets.seal(totpSecret, totpRecordId(psuId)),
          lastTotpStep: null,
          failedAttempts: 0,
          lockedUntil: null,
        })
        .where(eq(psus.psuId, psuId))
        .returning({ psuId: psus.psuId });
      return rows.length === 1;
    },
    async recordFailure(psuId, now, policy) {
      // One statement, as on SQLite: concurrent failures each wait for the row and all count.
      const expired = sql`(${psus.lockedUntil} is not null and ${psus.lockedUntil} <= ${now}::bigint)`;
      const next = sql`(case when ${expired} then 1 else ${psus.failedAttempts} + 1 end)`;
      const [row] = await db
        .update(psus)
        .set({
          failedAttempts: next,
          lockedUntil: sql`(case when ${next} >= ${policy.maxAttempts}::integer then ${now + policy.lockMs}::bigint when ${expired} then null else ${psus.lockedUntil} end)`,
        })
        .where(eq(psus.psuId, psuId))
        .returning({ failedAttempts: psus.failedAttempts, lockedUntil: psus.lockedUntil });
      return row ?? { failedAttempts: 0, lockedUntil: null };
    },
    async recordSuccess(psuId) {
      await db.update(psus).set({ failedAttempts: 0, lockedUntil: null }).where(eq(psus.psuId, psuId));
    },
    async acceptTotpStep(psuId, step) {
      const rows = await db
        .update(psus)
        .set({ lastTotpStep: step })
        .where(and(eq(psus.psuId, psuId), or(isNull(psus.lastTotpStep), lt(psus.lastTotpStep, step))))
        .returning({ psuId: psus.psuId });
      return rows.length === 1;
    },
    async addAccount(account) {
      await db.insert(accounts).values(account);
    },
    async listAccounts(psuId) {
      const rows =
        psuId === undefined
          ? await db
              .select()
              .from(accounts)
              .orderBy(asc(accounts.psuId), asc(accounts.createdAt), asc(accounts.accountId))
          : await accountsOfPsu.execute({ psuId });
      return rows.map(toAccount);
    },
    remove(psuId, at) {
      return db.transaction(async (tx) => {
        const removed = await tx.delete(psus).where(eq(psus.psuId, psuId)).returning({ psuId: psus.psuId });
        if (removed.length !== 1) return undefined;
        await tx.delete(accounts).where(eq(accounts.psuId, psuId));
        const active = await tx
          .select({ consentId: consents.consentId })
          .from(consents)
          .where(and(eq(consents.psuId, psuId), isNull(consents.revokedAt)))
          .for('update');
        await withdrawConsents(
          tx,
          active.map((c) => c.consentId),
          at,
        );
        return { consentsRevoked: active.length };
      });
    },
    removeAccount(accountId, at) {
      return db.transaction(async (tx) => {
        const [account] = await tx
          .delete(accounts)
          .where(eq(accounts.accountId, accountId))
          .returning({ psuId: accounts.psuId });
        if (!account) return undefined;
        const naming = (
          await tx
            .select({ consentId: consents.consentId, accountIds: consents.accountIds })
            .from(consents)
            .where(and(eq(consents.psuId, account.psuId), isNull(consents.revokedAt)))
            .for('update')
        )
          .filter((c) => (JSON.parse(c.accountIds) as string[]).includes(accountId))
          .map((c) => c.consentId);
        await withdrawConsents(tx, naming, at);
        return { consentsRevoked: naming.length };
      });
    },
  };
}

/** The bank withdraws consents: their grants are revoked in the same transaction. */
async function withdrawConsents(tx: Tx, consentIds: string[], at: number): Promise<void> {
  if (consentIds.length === 0) return;
  await tx
    .update(consents)
    .set({ revokedAt: at, revokedBy: 'bank' })
    .where(and(inArray(consents.consentId, consentIds), isNull(consents.revokedAt)));
  await tx
    .update(grants)
    .set({ revokedAt: at, revokedReason: 'consent_revoked' })
    .where(and(inArray(grants.consentId, consentIds), isNull(grants.revokedAt)));
}

/** Authentication events, written with the session write they belong to (in its transaction). */
async function recordEvents(db: PgDb | Tx, events: AuthenticationEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.insert(authenticationEvents).values(
    events.map((event) => ({
      id: globalThis.crypto.randomUUID(),
      sessionId: event.sessionId,
      occurredAt: event.occurredAt,
      event: event.event,
      psuId: event.psuId ?? null,
      clientId: event.clientId ?? null,
      detail: event.detail ? JSON.stringify(event.detail) : null,
    })),
  );
}

/** The columns of authentication events, one row per event, as postgres.js parameters. */
const eventRows = (db: PgDb, events: AuthenticationEvent[]) =>
  db.$client`,`.join(
    events.map(
      (event) => db.$client`(${globalThis.crypto.randomUUID()}::text, ${event.sessionId}::text,
        ${event.occurredAt}::bigint, ${event.event}::text, ${event.psuId ?? null}::text,
        ${event.clientId ?? null}::text, ${event.detail ? JSON.stringify(event.detail) : null}::text)`,
    ),
  );

/** Events inserted for good (a batched write of their own or beside an unconditional one). */
const eventsInsert = (db: PgDb, events: AuthenticationEvent[]) =>
  db.$client`insert into authentication_events (id, session_id, occurred_at, event, psu_id, client_id, detail)
    values ${eventRows(db, events)}`;

/**
 * A CTE (`, logged as (...)`) of a conditional write's statement: the events are inserted only if
 * the CTE `guard` returned a row, i.e. only by the racer whose write won. Empty without events.
 */
const eventsIf = (db: PgDb, guard: 'ended' | 'moved', events: AuthenticationEvent[]) =>
  events.length === 0
    ? db.$client``
    : db.$client`, logged as (
        insert into authentication_events (id, session_id, occurred_at, event, psu_id, client_id, detail)
        select * from (values ${eventRows(db, events)}) as e(id, session_id, occurred_at, event, psu_id, client_id, detail)
        where exists (select 1 from ${guard === 'ended' ? db.$client`ended` : db.$client`moved`})
      )`;

const SESSION_COLUMNS = {
  psuId: 'psu_id',
  stage: 'stage',
  authenticatedAt: 'authenticated_at',
  lastSeenAt: 'last_seen_at',
  expiresAt: 'expires_at',
} as const;

function sessionStore(db: PgDb, write: BatchedWrites): PsuSessionStore {
  const findSession = db
    .select()
    .from(psuSessions)
    .where(eq(psuSessions.sessionDigest, sql.placeholder('sessionDigest')))
    .prepare('find_psu_session');
  return {
    async create(sessionDigest, session, events = []) {
      // The session and its events: one write, batched with the turn's others.
      await write(() => [
        db.$client`
          insert into psu_sessions (session_digest, session_id, authorization_request, psu_id, stage, csrf_token,
            authenticated_at, last_seen_at, expires_at, created_at)
          values (${sessionDigest}::text, ${session.sessionId}::text, ${JSON.stringify(session.request)}::text,
            ${session.psuId}::text, ${session.stage}::text, ${session.csrfToken}::text,
            ${session.authenticatedAt}::bigint, ${session.lastSeenAt}::bigint, ${session.expiresAt}::bigint,
            ${session.createdAt}::bigint)`,
        ...(events.length > 0 ? [eventsInsert(db, events)] : []),
      ]);
    },
    async find(sessionDigest) {
      const [row] = await findSession.execute({ sessionDigest });
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
    async advance(sessionDigest, fromStage, changes, events = []) {
      const set: Record<string, unknown> = {};
      for (const [key, column] of Object.entries(SESSION_COLUMNS)) {
        const value = changes[key as keyof typeof SESSION_COLUMNS];
        if (value !== undefined) set[column] = value;
      }
      if (Object.keys(set).length === 0) throw new Error('a session advance changes nothing');
      // One statement, batched with the turn's other writes: the events are written only if this
      // request moved the session (one of two racing ones wins).
      const [rows] = await write(() => [
        db.$client`
          with moved as (
            update psu_sessions set ${db.$client(set)}
            where session_digest = ${sessionDigest}::text and stage = ${fromStage}::text
            returning 1
          )${eventsIf(db, 'moved', events)}
          select count(*)::int as won from moved`,
      ]);
      return rows?.[0]?.won === 1;
    },
  };
}

function pushedRequestStore(db: PgDb): PushedRequestStore {
  return {
    async insert(requestUriDigest, request, createdAt, expiresAt) {
      await db.insert(pushedRequests).values({
        requestUriDigest,
        clientId: request.clientId,
        parameters: JSON.stringify(request),
        createdAt,
        expiresAt,
      });
    },
    async consume(requestUriDigest, clientId, now) {
      const [row] = await db
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
        .returning({ parameters: pushedRequests.parameters });
      return row ? (JSON.parse(row.parameters) as AuthorizationRequest) : undefined;
    },
  };
}

class PaymentGone extends Error {}

function consentStore(db: PgDb, write: BatchedWrites): ConsentStore {
  return {
    async grant({ consent, code, sca, payment }, session, events = []) {
      if (!payment) {
        // One statement, batched with the turn's other writes: the consent, its code, the SCA time
        // and the events are written only if this submission moved the session out of its stage
        // (one of two racing ones wins). A payment's approval keeps its transaction below.
        const [rows] = await write(() => {
          const scaWrite = sca
            ? db.$client`, recorded as (
                insert into sca_records (psu_id, client_id, last_sca_at)
                select ${consent.psuId}::text, ${consent.clientId}::text, ${sca.at}::bigint
                where exists (select 1 from ended)
                on conflict (psu_id, client_id) do update set last_sca_at = excluded.last_sca_at
              )`
            : db.$client``;
          return [
            db.$client`
          with ended as (
            update psu_sessions set stage = 'done', psu_id = ${consent.psuId}::text
            where session_digest = ${session.sessionDigest}::text and stage = ${session.fromStage}::text
            returning 1
          ), consented as (
            insert into consents (consent_id, client_id, psu_id, scope, account_ids, created_at, expires_at,
              revoked_at, revoked_by, authorization_id)
            select ${consent.consentId}::text, ${consent.clientId}::text, ${consent.psuId}::text,
              ${consent.scope}::text, ${JSON.stringify(consent.accountIds)}::text, ${consent.createdAt}::bigint,
              ${consent.expiresAt}::bigint, null, null, ${consent.authorizationId ?? null}::text
            where exists (select 1 from ended)
          ), issued as (
            insert into authorization_codes (code_digest, client_id, redirect_uri, code_challenge, consent_id,
              psu_id, scope, created_at, expires_at, consumed_at, grant_id)
            select ${code.codeDigest}::text, ${code.clientId}::text, ${code.redirectUri}::text,
              ${code.codeChallenge}::text, ${code.consentId}::text, ${code.psuId}::text, ${code.scope}::text,
              ${code.createdAt}::bigint, ${code.expiresAt}::bigint, null, null
            where exists (select 1 from ended)
          )${scaWrite}${eventsIf(db, 'ended', events)}
          select count(*)::int as won from ended`,
          ];
        });
        return rows?.[0]?.won === 1 ? 'granted' : 'session';
      }
      try {
        return await db.transaction(async (tx): Promise<GrantOutcome> => {
          // The journey's last step: only from the stage the PSU's form was at (one of two racing
          // submissions wins), and nothing is written for the loser.
          const ended = await tx
            .update(psuSessions)
            .set({ stage: 'done', psuId: consent.psuId })
            .where(and(eq(psuSessions.sessionDigest, session.sessionDigest), eq(psuSessions.stage, session.fromStage)))
            .returning({ sessionDigest: psuSessions.sessionDigest });
          if (ended.length !== 1) return 'session';
          if (payment) {
            // Dynamic linking: authorised only if still awaiting, unexpired and with the hash the PSU saw.
            const bound = await tx
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
              .returning({ id: paymentAuthorizations.authorizationId });
            // Undo the session's move too: nothing is written when the payment is gone.
            if (bound.length !== 1) throw new PaymentGone();
          }
          await tx
            .insert(consents)
            .values({ ...consent, accountIds: JSON.stringify(consent.accountIds), revokedAt: null });
          await tx.insert(authorizationCodes).values({ ...code, consumedAt: null, grantId: null });
          if (sca) {
            await tx
              .insert(scaRecords)
              .values({ psuId: consent.psuId, clientId: consent.clientId, lastScaAt: sca.at })
              .onConflictDoUpdate({ target: [scaRecords.psuId, scaRecords.clientId], set: { lastScaAt: sca.at } });
          }
          await recordEvents(tx, events);
          return 'granted';
        });
      } catch (err) {
        if (err instanceof PaymentGone) return 'payment';
        throw err;
      }
    },
    async list(filter) {
      const conditions = [
        filter.psuId ? eq(consents.psuId, filter.psuId) : undefined,
        filter.clientId ? eq(consents.clientId, filter.clientId) : undefined,
      ].filter((c) => c !== undefined);
      const rows = await db
        .select()
        .from(consents)
        .where(conditions.length > 0 ? and(...conditions) : undefined)
        .orderBy(desc(consents.createdAt));
      return rows.map(({ authorizationId, ...row }) => ({
        ...row,
        accountIds: JSON.parse(row.accountIds) as string[],
        ...(authorizationId ? { authorizationId } : {}),
      }));
    },
    revoke(consentId, at, by) {
      return db.transaction(async (tx) => {
        const withdrawn = await tx
          .update(consents)
          .set({ revokedAt: at, revokedBy: by })
          .where(and(eq(consents.consentId, consentId), isNull(consents.revokedAt)))
          .returning({ consentId: consents.consentId });
        if (withdrawn.length !== 1) return false;
        await tx
          .update(grants)
          .set({ revokedAt: at, revokedReason: 'consent_revoked' })
          .where(and(eq(grants.consentId, consentId), isNull(grants.revokedAt)));
        return true;
      });
    },
  };
}
