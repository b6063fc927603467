// The SQLite implementation of the permission dashboard's ports: its sessions (a conditional
// UPDATE per step, as the consent pages' sessions), the last SCA per TPP, the PSU's payments.
import { and, desc, eq, gte, inArray, isNotNull, lt, or } from 'drizzle-orm';
import type {
  PermissionSession,
  PermissionSessionStore,
  PermissionStores,
} from '../server/protocol/permissions/ports.ts';
import type { Commit } from './group-commit.ts';
import { HISTORY_PAYMENT_STATUSES, paymentRecord } from './rows.ts';
import { consents, paymentAuthorizations, permissionSessions, scaRecords } from './schema.ts';
import type { Db } from './sqlite.ts';

export function createPermissionStores(db: Db, commit: Commit): PermissionStores {
  return {
    sessions: sessionStore(db, commit),
    async lastScaTimes(psuId) {
      const rows = db.select().from(scaRecords).where(eq(scaRecords.psuId, psuId)).all();
      return new Map(rows.map((row) => [row.clientId, row.lastScaAt]));
    },
    async paymentsOf(psuId, since) {
      return db
        .select()
        .from(paymentAuthorizations)
        .where(
          and(
            eq(paymentAuthorizations.psuId, psuId),
            inArray(paymentAuthorizations.status, HISTORY_PAYMENT_STATUSES),
            gte(paymentAuthorizations.updatedAt, since),
          ),
        )
        .orderBy(desc(paymentAuthorizations.updatedAt))
        .all()
        .map(paymentRecord);
    },
    purge(now, historyMs) {
      const cutoff = now - historyMs;
      return commit(() =>
        db.transaction((tx) => ({
          permissionSessions: tx.delete(permissionSessions).where(lt(permissionSessions.expiresAt, now)).run().changes,
          consents: tx
            .delete(consents)
            .where(
              or(lt(consents.expiresAt, cutoff), and(isNotNull(consents.revokedAt), lt(consents.revokedAt, cutoff))),
            )
            .run().changes,
          paymentAuthorizations: tx
            .delete(paymentAuthorizations)
            .where(and(lt(paymentAuthorizations.updatedAt, cutoff), lt(paymentAuthorizations.expiresAt, cutoff)))
            .run().changes,
        })),
      );
    },
  };
}

function sessionStore(db: Db, commit: Commit): PermissionSessionStore {
  return {
    create(sessionDigest, session) {
      return commit(() => {
        db.insert(permissionSessions)
          .values({ sessionDigest, ...session })
          .run();
      });
    },
    async find(sessionDigest) {
      const row = db.select().from(permissionSessions).where(eq(permissionSessions.sessionDigest, sessionDigest)).get();
      if (!row) return undefined;
      const { sessionDigest: _, ...session } = row;
      return { ...session, stage: row.stage as PermissionSession['stage'] };
    },
    advance(sessionDigest, fromStage, changes) {
      return commit(
        () =>
          db
            .update(permissionSessions)
            .set(changes)
            .where(and(eq(permissionSessions.sessionDigest, sessionDigest), eq(permissionSessions.stage, fromStage)))
            .run().changes === 1,
      );
    },
  };
}
