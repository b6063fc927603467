// The PostgreSQL implementation of the permission dashboard's ports, as db/stores-permissions.ts
// does it on SQLite: a conditional UPDATE per session step (checked with RETURNING).
import { and, desc, eq, gte, inArray, isNotNull, lt, or } from 'drizzle-orm';
import type {
  PermissionSession,
  PermissionSessionStore,
  PermissionStores,
} from '../../server/protocol/permissions/ports.ts';
import { HISTORY_PAYMENT_STATUSES, paymentRecord } from '../rows.ts';
import { consents, paymentAuthorizations, permissionSessions, scaRecords } from './schema.ts';
import type { PgDb } from './stores.ts';

export function postgresPermissionStores(db: PgDb): PermissionStores {
  return {
    sessions: sessionStore(db),
    async lastScaTimes(psuId) {
      const rows = await db.select().from(scaRecords).where(eq(scaRecords.psuId, psuId));
      return new Map(rows.map((row) => [row.clientId, row.lastScaAt]));
    },
    async paymentsOf(psuId, since) {
      const rows = await db
        .select()
        .from(paymentAuthorizations)
        .where(
          and(
            eq(paymentAuthorizations.psuId, psuId),
            inArray(paymentAuthorizations.status, HISTORY_PAYMENT_STATUSES),
            gte(paymentAuthorizations.updatedAt, since),
          ),
        )
        .orderBy(desc(paymentAuthorizations.updatedAt));
      return rows.map(paymentRecord);
    },
    purge(now, historyMs) {
      const cutoff = now - historyMs;
      return db.transaction(async (tx) => ({
        permissionSessions: (
          await tx
            .delete(permissionSessions)
            .where(lt(permissionSessions.expiresAt, now))
            .returning({ k: permissionSessions.sessionDigest })
        ).length,
        consents: (
          await tx
            .delete(consents)
            .where(
              or(lt(consents.expiresAt, cutoff), and(isNotNull(consents.revokedAt), lt(consents.revokedAt, cutoff))),
            )
            .returning({ k: consents.consentId })
        ).length,
        paymentAuthorizations: (
          await tx
            .delete(paymentAuthorizations)
            .where(and(lt(paymentAuthorizations.updatedAt, cutoff), lt(paymentAuthorizations.expiresAt, cutoff)))
            .returning({ k: paymentAuthorizations.authorizationId })
        ).length,
      }));
    },
  };
}

function sessionStore(db: PgDb): PermissionSessionStore {
  return {
    async create(sessionDigest, session) {
      await db.insert(permissionSessions).values({ sessionDigest, ...session });
    },
    async find(sessionDigest) {
      const [row] = await db
        .select()
        .from(permissionSessions)
        .where(eq(permissionSessions.sessionDigest, sessionDigest));
      if (!row) return undefined;
      const { sessionDigest: _, ...session } = row;
      return { ...session, stage: row.stage as PermissionSession['stage'] };
    },
    async advance(sessionDigest, fromStage, changes) {
      const rows = await db
        .update(permissionSessions)
        .set(changes)
        .where(and(eq(permissionSessions.sessionDigest, sessionDigest), eq(permissionSessions.stage, fromStage)))
        .returning({ sessionDigest: permissionSessions.sessionDigest });
      return rows.length === 1;
    },
  };
}
