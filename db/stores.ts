// The SQLite implementations of the protocol's storage ports: the only file that writes drizzle queries.
import Database from 'better-sqlite3';
import { and, asc, desc, eq, isNotNull, isNull, ne, sql } from 'drizzle-orm';
import type {
  RetireOutcome,
  SecretStore,
  SigningKeyStatus,
  SigningKeyStore,
  SigningKeySummary,
  StoredSigningKey,
} from '../server/protocol/keys/ports.ts';
import type { CheckResult, HealthProbe, StorageObserver } from '../server/protocol/operations/ports.ts';
import type { PaymentAuthorizationStore } from '../server/protocol/payments/ports.ts';
import type { PermissionStores } from '../server/protocol/permissions/ports.ts';
import type { AuthorizationStores } from '../server/protocol/psu/ports.ts';
import type {
  AuditEvent,
  ClientAdministration,
  ClientRecord,
  ClientStore,
  ClientView,
  OperatorActor,
} from '../server/protocol/registration/ports.ts';
import type { SecretSealer } from '../server/protocol/secret-sealer.ts';
import { CACHE_NAMES, sqliteChangeFeed } from './change-feed.ts';
import { type Commit, createGroupCommit } from './group-commit.ts';
import { createReadCaches, type ReadCache } from './read-cache.ts';
import { clientRow } from './rows.ts';
import { auditEvents, clients, grants, healthProbe, signingKeys } from './schema.ts';
import { type Secrets, secretsWith, signingKeyRecordId, sqliteSecretStore } from './secrets.ts';
import { type Db, nativeBindingOf, pendingMigrations, planned } from './sqlite.ts';
import { createAuthorizationStores } from './stores-authorization.ts';
import { createPaymentAuthorizationStore } from './stores-payments.ts';
import { createPermissionStores } from './stores-permissions.ts';
import { createTokenStores, type TokenStores } from './stores-tokens.ts';

export interface Stores extends TokenStores {
  signingKeys: SigningKeyStore;
  secrets: SecretStore;
  clients: ClientStore;
  /** The bank's operations on clients (CLI): list, suspend, resume, delete, audit trail. */
  clientAdministration: ClientAdministration;
  health: HealthProbe;
  /** PSUs, accounts, PSU sessions, authentication log, pushed requests, consents. */
  authorization: AuthorizationStores;
  /** Payment authorisations registered by the bank's resource servers. */
  payments: PaymentAuthorizationStore;
  /** The permission dashboard: its sessions, the last SCA per TPP, the PSU's payments, its purge. */
  permissions: PermissionStores;
}

export interface StoreOptions {
  /** Seals signing private keys and TOTP secrets; without it, writing either fails. */
  sealer?: SecretSealer;
}

export function createSqliteStores(db: Db, observer?: StorageObserver, options: StoreOptions = {}): Stores {
  const dataVersion = db.$client.prepare('PRAGMA data_version').pluck();
  const caches = createReadCaches(
    sqliteChangeFeed(() => dataVersion.get()),
    { observer },
  );
  const commit = createGroupCommit(db.$client, observer);
  // Every token and introspection request reads its client (read-cache.ts).
  const clientCache = caches.create<ClientRecord>(CACHE_NAMES.clients, CLIENT_CACHE_SIZE);
  const secrets = secretsWith(options.sealer);
  return {
    signingKeys: signingKeyStore(db, commit, secrets),
    secrets: sqliteSecretStore(db, commit, options.sealer),
    clients: clientStore(db, clientCache, commit),
    clientAdministration: clientAdministration(db, clientCache, commit),
    ...createTokenStores(db, caches, commit),
    authorization: createAuthorizationStores(db, commit, secrets),
    payments: createPaymentAuthorizationStore(db, commit),
    permissions: createPermissionStores(db, commit),
    health: sqliteHealth(db, commit),
  };
}

const failed = (err: unknown): CheckResult =>
  `failed: ${err && typeof err === 'object' && 'code' in err ? String(err.code) : err instanceof Error ? err.message : String(err)}`;

/** A full quick_check reads every page: at most this often, on a fresh connection (no page cache). */
const INTEGRITY_INTERVAL_MS = 30_000;

function sqliteHealth(db: Db, commit: Commit): HealthProbe {
  const path = db.$client.name;
  const readKeys = db.$client.prepare('select count(*) from signing_keys').pluck();
  let integrity: { at: number; result: CheckResult } | undefined;
  const checkIntegrity = (): CheckResult => {
    if (path === ':memory:' || path === '') return 'ok';
    const fresh = new Database(path, { readonly: true, fileMustExist: true, ...nativeBindingOf(path) });
    try {
      const result = fresh.pragma('quick_check', { simple: true });
      return result === 'ok' ? 'ok' : `failed: ${String(result).slice(0, 200)}`;
    } finally {
      fresh.close();
    }
  };
  return {
    async ping() {
      db.get(sql`select 1`);
    },
    async readiness() {
      let read: CheckResult = 'ok';
      let write: CheckResult = 'ok';
      let migrations: CheckResult = 'ok';
      try {
        readKeys.get();
      } catch (err) {
        read = failed(err);
      }
      try {
        const at = Date.now();
        await commit(() =>
          db
            .insert(healthProbe)
            .values({ id: 1, checkedAt: at })
            .onConflictDoUpdate({ target: healthProbe.id, set: { checkedAt: at } })
            .run(),
        );
      } catch (err) {
        write = failed(err);
      }
      try {
        const missing = pendingMigrations(db);
        if (missing > 0) migrations = `failed: ${missing} migration(s) not applied`;
      } catch (err) {
        migrations = failed(err);
      }
      const now = Date.now();
      if (integrity?.result !== 'ok' || now - integrity.at >= INTEGRITY_INTERVAL_MS) {
        let result: CheckResult;
        try {
          result = checkIntegrity();
        } catch (err) {
          result = failed(err);
        }
        integrity = { at: now, result };
      }
      return { read, write, migrations, integrity: integrity.result };
    },
  };
}

function signingKeyStore(db: Db, commit: Commit, secrets: Secrets): SigningKeyStore {
  type Row = typeof signingKeys.$inferSelect;
  const summary = (row: Row): SigningKeySummary => ({
    kid: row.kid,
    alg: row.alg,
    publicJwk: JSON.parse(row.publicJwk),
    status: row.status as SigningKeyStatus,
    createdAt: row.createdAt,
    deactivatedAt: row.deactivatedAt,
  });
  const insertRow = (tx: Tx | Db, key: StoredSigningKey, status: SigningKeyStatus) => {
    tx.insert(signingKeys)
      .values({
        kid: key.kid,
        alg: key.alg,
        publicJwk: JSON.stringify(key.publicJwk),
        privateJwk: secrets.seal(JSON.stringify(key.privateJwk), signingKeyRecordId(key.kid)),
        status,
        createdAt: key.createdAt,
        deactivatedAt: null,
      })
      .run();
  };
  const deactivate = (tx: Tx | Db, now: number) => {
    tx.update(signingKeys)
      .set({ status: 'published', deactivatedAt: now })
      .where(eq(signingKeys.status, 'active'))
      .run();
  };
  const newestFirst = [desc(signingKeys.createdAt), asc(signingKeys.kid)];
  return {
    async listPublished() {
      const rows = db
        .select()
        .from(signingKeys)
        .where(ne(signingKeys.status, 'retired'))
        .orderBy(...newestFirst)
        .all();
      return rows.map(
        (row): StoredSigningKey => ({
          ...summary(row),
          privateJwk: JSON.parse(secrets.open(row.privateJwk, signingKeyRecordId(row.kid))),
        }),
      );
    },
    async list() {
      return db
        .select()
        .from(signingKeys)
        .orderBy(...newestFirst)
        .all()
        .map(summary);
    },
    ensure(candidates, activeAlg, now) {
      // commit() runs the callback inside BEGIN IMMEDIATE: the reads below see every key another
      // process committed, and no other process can write until this transaction ends.
      return commit(() => {
        db.transaction((tx) => {
          const published = tx.select().from(signingKeys).where(ne(signingKeys.status, 'retired')).all();
          for (const candidate of candidates) {
            if (!published.some((k) => k.alg === candidate.alg)) insertRow(tx, candidate, 'published');
          }
          const active = tx.select().from(signingKeys).where(eq(signingKeys.status, 'active')).get();
          if (active?.alg === activeAlg) return;
          const next = tx
            .select()
            .from(signingKeys)
            .where(and(eq(signingKeys.status, 'published'), eq(signingKeys.alg, activeAlg)))
            .orderBy(...newestFirst)
            .get();
          if (!next) throw new Error(`no ${activeAlg} signing key to activate`);
          deactivate(tx, now);
          tx.update(signingKeys).set({ status: 'active' }).where(eq(signingKeys.kid, next.kid)).run();
        });
      });
    },
    insertActive(key, now) {
      return commit(() => {
        db.transaction((tx) => {
          deactivate(tx, now);
          insertRow(tx, key, 'active');
        });
      });
    },
    retire(kid, inactiveBefore, now) {
      return commit((): RetireOutcome => {
        const row = db.select().from(signingKeys).where(eq(signingKeys.kid, kid)).get();
        if (!row || row.status === 'retired') return 'unknown';
        if (row.status === 'active') return 'active';
        if (row.deactivatedAt !== null && row.deactivatedAt > inactiveBefore) return 'too_recent';
        db.update(signingKeys)
          .set({ status: 'retired', deactivatedAt: row.deactivatedAt ?? now })
          .where(eq(signingKeys.kid, kid))
          .run();
        return 'retired';
      });
    },
    async version() {
      const row = db
        .select({ v: sql<string | null>`group_concat(${signingKeys.kid} || ':' || ${signingKeys.status}, ',')` })
        .from(signingKeys)
        .get();
      return row?.v ?? '';
    },
  };
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const auditRow = (event: AuditEvent) => ({
  id: globalThis.crypto.randomUUID(),
  occurredAt: event.occurredAt,
  action: event.action,
  clientId: event.clientId,
  actorSubjectDn: event.actorSubjectDn,
  actorThumbprint: event.actorThumbprint,
  detail: event.detail ? JSON.stringify(event.detail) : null,
});

function writeAudit(tx: Tx | Db, event: AuditEvent): void {
  tx.insert(auditEvents).values(auditRow(event)).run();
}

const p = sql.placeholder;

const CLIENT_CACHE_SIZE = 10_000;

function clientStore(db: Db, cache: ReadCache<ClientRecord>, commit: Commit): ClientStore {
  const live = (clientId: string) => and(eq(clients.clientId, clientId), isNull(clients.deletedAt));
  // Prepared once: every token request looks its client up.
  const findLive = db
    .select()
    .from(clients)
    .where(and(eq(clients.clientId, sql.placeholder('clientId')), isNull(clients.deletedAt)))
    .prepare();
  // Prepared once: every registration writes both.
  const insertClient = db
    .insert(clients)
    .values({
      clientId: p('clientId'),
      organizationId: p('organizationId'),
      subjectDn: p('subjectDn'),
      organizationName: p('organizationName'),
      metadata: p('metadata'),
      registrationTokenDigest: p('registrationTokenDigest'),
      issuedAt: p('issuedAt'),
      updatedAt: p('updatedAt'),
    })
    .prepare();
  const insertAudit = db
    .insert(auditEvents)
    .values({
      id: p('id'),
      occurredAt: p('occurredAt'),
      action: p('action'),
      clientId: p('clientId'),
      actorSubjectDn: p('actorSubjectDn'),
      actorThumbprint: p('actorThumbprint'),
      detail: p('detail'),
    })
    .prepare();
  return {
    insert(record, event) {
      // One write of the group commit, atomic in its own savepoint.
      return commit(() => {
        insertClient.run(clientRow(record));
        insertAudit.run(auditRow(event));
      });
    },
    async find(clientId) {
      const cached = cache.get(clientId);
      if (cached) return cached;
      const row = findLive.get({ clientId });
      if (!row?.registrationTokenDigest) return undefined;
      const record: ClientRecord = {
        clientId: row.clientId,
        organizationId: row.organizationId,
        organizationName: row.organizationName,
        metadata: JSON.parse(row.metadata) as ClientRecord['metadata'],
        registrationTokenDigest: row.registrationTokenDigest,
        issuedAt: row.issuedAt,
        updatedAt: row.updatedAt,
        suspendedAt: row.suspendedAt,
      };
      cache.set(clientId, record);
      return record;
    },
    replace(clientId, expectedTokenDigest, changes, event) {
      return commit(() => {
        cache.delete(clientId);
        return db.transaction((tx) => {
          const result = tx
            .update(clients)
            .set({
              metadata: JSON.stringify(changes.metadata),
              subjectDn: changes.metadata.tls_client_auth_subject_dn,
              organizationName: changes.organizationName ?? null,
              registrationTokenDigest: changes.registrationTokenDigest,
              updatedAt: changes.updatedAt,
            })
            .where(and(live(clientId), eq(clients.registrationTokenDigest, expectedTokenDigest)))
            .run();
          if (result.changes !== 1) return false;
          writeAudit(tx, event);
          return true;
        });
      });
    },
    delete(clientId, expectedTokenDigest, event) {
      return commit(() => {
        cache.delete(clientId);
        return db.transaction((tx) => {
          const result = tx
            .update(clients)
            .set({ deletedAt: event.occurredAt, registrationTokenDigest: null, updatedAt: event.occurredAt })
            .where(and(live(clientId), eq(clients.registrationTokenDigest, expectedTokenDigest)))
            .run();
          if (result.changes !== 1) return false;
          // Its refresh tokens die with it, in the same commit; introspection refuses its access
          // tokens by the grant, and those of client_credentials by the client's deletion.
          tx.update(grants)
            .set({ revokedAt: event.occurredAt, revokedReason: 'client_deleted' })
            .where(and(eq(grants.clientId, clientId), isNull(grants.revokedAt)))
            .run();
          writeAudit(tx, event);
          return true;
        });
      });
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

function clientAdministration(db: Db, cache: ReadCache<ClientRecord>, commit: Commit): ClientAdministration {
  /** One change to the named clients that `where` still selects, audited per client, in one transaction. */
  const change = (
    clientIds: string[],
    actor: OperatorActor,
    action: AuditEvent['action'],
    apply: (tx: Tx, clientId: string) => boolean,
  ) =>
    commit(() =>
      db.transaction((tx) => {
        const changed: string[] = [];
        for (const clientId of clientIds) {
          cache.delete(clientId);
          if (!apply(tx, clientId)) continue;
          writeAudit(tx, { ...actor, action, clientId });
          changed.push(clientId);
        }
        return changed;
      }),
    );
  const live = (clientId: string) => and(eq(clients.clientId, clientId), isNull(clients.deletedAt));
  // Prepared once: every registration asks it.
  const suspendedOf = db
    .select()
    .from(clients)
    .where(
      and(
        eq(clients.organizationId, planned('organizationId')),
        isNotNull(clients.suspendedAt),
        isNull(clients.deletedAt),
      ),
    )
    .orderBy(asc(clients.issuedAt), asc(clients.clientId))
    .prepare();
  return {
    async list(filter = {}) {
      if (filter.suspended && filter.organizationId) {
        return suspendedOf.all({ organizationId: filter.organizationId }).map(toView);
      }
      return db
        .select()
        .from(clients)
        .where(
          and(
            filter.organizationId ? eq(clients.organizationId, filter.organizationId) : undefined,
            filter.suspended ? and(isNotNull(clients.suspendedAt), isNull(clients.deletedAt)) : undefined,
          ),
        )
        .orderBy(asc(clients.issuedAt), asc(clients.clientId))
        .all()
        .map(toView);
    },
    async get(clientId) {
      const row = db.select().from(clients).where(eq(clients.clientId, clientId)).get();
      return row && toView(row);
    },
    suspend(clientIds, actor) {
      return change(clientIds, actor, 'client.suspended', (tx, clientId) => {
        const result = tx
          .update(clients)
          .set({ suspendedAt: actor.occurredAt, updatedAt: actor.occurredAt })
          .where(and(live(clientId), isNull(clients.suspendedAt)))
          .run();
        return result.changes === 1;
      });
    },
    resume(clientIds, actor) {
      return change(clientIds, actor, 'client.resumed', (tx, clientId) => {
        const result = tx
          .update(clients)
          .set({ suspendedAt: null, updatedAt: actor.occurredAt })
          .where(and(live(clientId), isNotNull(clients.suspendedAt)))
          .run();
        return result.changes === 1;
      });
    },
    remove(clientIds, actor) {
      return change(clientIds, actor, 'client.deleted', (tx, clientId) => {
        const result = tx
          .update(clients)
          .set({ deletedAt: actor.occurredAt, registrationTokenDigest: null, updatedAt: actor.occurredAt })
          .where(live(clientId))
          .run();
        if (result.changes !== 1) return false;
        tx.update(grants)
          .set({ revokedAt: actor.occurredAt, revokedReason: 'client_deleted' })
          .where(and(eq(grants.clientId, clientId), isNull(grants.revokedAt)))
          .run();
        return true;
      });
    },
    async auditTrail(clientId) {
      return db
        .select()
        .from(auditEvents)
        .where(eq(auditEvents.clientId, clientId))
        .orderBy(asc(auditEvents.occurredAt))
        .all()
        .map((row) => ({
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
