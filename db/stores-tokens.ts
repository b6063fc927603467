// The SQLite implementations of the token side's ports: codes, grants, revoked access tokens,
// resource servers and the purge. Every read-modify-write is one conditional UPDATE checked by
// `changes`, inside a transaction when a second row goes with it.

import { and, asc, eq, gt, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { PurgeStore } from '../server/protocol/operations/ports.ts';
import type {
  AuthorizationCodeState,
  AuthorizationCodeStore,
  GrantRecord,
  GrantStore,
  ResourceServerRecord,
  ResourceServerStore,
  RevokedAccessTokenStore,
} from '../server/protocol/token/ports.ts';
import { CACHE_NAMES } from './change-feed.ts';
import type { Commit } from './group-commit.ts';
import type { ReadCaches } from './read-cache.ts';
import { consentState } from './rows.ts';
import {
  authorizationCodes,
  consents,
  grants,
  psuSessions,
  pushedRequests,
  resourceServers,
  revokedAccessTokens,
} from './schema.ts';
import { type Db, planned } from './sqlite.ts';

export interface TokenStores {
  authorizationCodes: AuthorizationCodeStore;
  grants: GrantStore;
  revokedAccessTokens: RevokedAccessTokenStore;
  resourceServers: ResourceServerStore;
  purge: PurgeStore;
}

export function createTokenStores(db: Db, caches: ReadCaches, commit: Commit): TokenStores {
  return {
    authorizationCodes: authorizationCodeStore(db, commit),
    grants: grantStore(db, commit),
    revokedAccessTokens: revokedAccessTokenStore(db, caches, commit),
    resourceServers: resourceServerStore(db, caches, commit),
    purge: purgeStore(db, commit),
  };
}

const p = sql.placeholder;

function authorizationCodeStore(db: Db, commit: Commit): AuthorizationCodeStore {
  // Prepared once: every code exchange reads its code.
  const findCode = db
    .select()
    .from(authorizationCodes)
    .leftJoin(consents, eq(consents.consentId, authorizationCodes.consentId))
    .where(eq(authorizationCodes.codeDigest, planned('codeDigest')))
    .prepare();
  const consumeCode = db
    .update(authorizationCodes)
    .set({ consumedAt: sql`${p('at')}`, grantId: sql`${p('grantId')}` })
    .where(
      and(
        eq(authorizationCodes.codeDigest, p('codeDigest')),
        isNull(authorizationCodes.consumedAt),
        // An expired code is never consumed, even if it was valid when it was read.
        gt(authorizationCodes.expiresAt, p('at')),
      ),
    )
    .prepare();
  const insertGrant = db
    .insert(grants)
    .values({
      grantId: p('grantId'),
      clientId: p('clientId'),
      consentId: p('consentId'),
      psuId: p('psuId'),
      scope: p('scope'),
      refreshTokenDigest: p('refreshTokenDigest'),
      previousRefreshTokenDigest: p('previousRefreshTokenDigest'),
      createdAt: p('createdAt'),
      expiresAt: p('expiresAt'),
      revokedAt: p('revokedAt'),
      revokedReason: p('revokedReason'),
    })
    .prepare();
  return {
    async find(codeDigest) {
      const row = findCode.get({ codeDigest });
      if (!row) return undefined;
      return {
        code: row.authorization_codes satisfies AuthorizationCodeState,
        consent: consentState(row.consents),
      };
    },
    redeem(codeDigest, grant, at) {
      // One write of the group commit, atomic in its own savepoint.
      return commit(() => {
        const consumed = consumeCode.run({ at, grantId: grant.grantId, codeDigest });
        if (consumed.changes !== 1) return false;
        insertGrant.run({ ...grant });
        return true;
      });
    },
  };
}

function grantStore(db: Db, commit: Commit): GrantStore {
  // Prepared once: refresh and introspection look the grant up on every call.
  const findGrant = db
    .select()
    .from(grants)
    .leftJoin(consents, eq(consents.consentId, grants.consentId))
    .where(eq(grants.grantId, planned('grantId')))
    .prepare();
  return {
    async find(grantId) {
      const row = findGrant.get({ grantId });
      if (!row) return undefined;
      return { grant: row.grants satisfies GrantRecord, consent: consentState(row.consents) };
    },
    rotateRefreshToken(grantId, presented, next) {
      return commit(() => {
        const live = and(eq(grants.grantId, grantId), isNull(grants.revokedAt));
        const fromCurrent = db
          .update(grants)
          .set({ refreshTokenDigest: next, previousRefreshTokenDigest: presented })
          .where(and(live, eq(grants.refreshTokenDigest, presented)))
          .run();
        if (fromCurrent.changes === 1) return true;
        const fromPrevious = db
          .update(grants)
          .set({ refreshTokenDigest: next, previousRefreshTokenDigest: null })
          .where(and(live, eq(grants.previousRefreshTokenDigest, presented)))
          .run();
        return fromPrevious.changes === 1;
      });
    },
    revoke(grantId, reason, at) {
      return commit(() => {
        const result = db
          .update(grants)
          .set({ revokedAt: at, revokedReason: reason })
          .where(and(eq(grants.grantId, grantId), isNull(grants.revokedAt)))
          .run();
        return result.changes === 1;
      });
    },
  };
}

// Introspection asks about every token it sees, most of them many times: answers are cached, "not
// revoked" included (for at most the caches' maximum age, and dropped by the change feed when
// another process revokes it), and revoke() records its answer in the same call (read-cache.ts).
const REVOKED_CACHE_SIZE = 100_000;

function revokedAccessTokenStore(db: Db, caches: ReadCaches, commit: Commit): RevokedAccessTokenStore {
  const cache = caches.create<boolean>(CACHE_NAMES.revokedAccessTokens, REVOKED_CACHE_SIZE);
  const findRevoked = db
    .select({ jti: revokedAccessTokens.jti })
    .from(revokedAccessTokens)
    .where(eq(revokedAccessTokens.jti, sql.placeholder('jti')))
    .prepare();
  return {
    revoke(token, at) {
      return commit(() => {
        db.insert(revokedAccessTokens)
          .values({ jti: token.jti, clientId: token.clientId, expiresAt: token.expiresAt, revokedAt: at })
          .onConflictDoNothing()
          .run();
        cache.set(token.jti, true);
      });
    },
    async isRevoked(jti) {
      let revoked = cache.get(jti);
      if (revoked === undefined) {
        revoked = findRevoked.get({ jti }) !== undefined;
        cache.set(jti, revoked);
      }
      return revoked;
    },
  };
}

const RESOURCE_SERVER_CACHE_SIZE = 1_000;

function resourceServerStore(db: Db, caches: ReadCaches, commit: Commit): ResourceServerStore {
  // Every introspection authenticates its caller; resource servers change through the CLI, that is
  // from another process, which the cache notices (read-cache.ts).
  const cache = caches.create<ResourceServerRecord | null>(CACHE_NAMES.resourceServers, RESOURCE_SERVER_CACHE_SIZE);
  const findEnabled = db
    .select()
    .from(resourceServers)
    .where(and(eq(resourceServers.clientId, sql.placeholder('clientId')), isNull(resourceServers.disabledAt)))
    .prepare();
  return {
    insert(record) {
      return commit(() => {
        db.insert(resourceServers).values(record).run();
        cache.delete(record.clientId);
      });
    },
    async find(clientId) {
      let found = cache.get(clientId);
      if (found === undefined) {
        found = findEnabled.get({ clientId }) ?? null;
        cache.set(clientId, found);
      }
      return found ?? undefined;
    },
    async list(): Promise<ResourceServerRecord[]> {
      return db.select().from(resourceServers).orderBy(asc(resourceServers.createdAt)).all();
    },
    disable(clientId, at) {
      return commit(() => {
        const result = db
          .update(resourceServers)
          .set({ disabledAt: at })
          .where(and(eq(resourceServers.clientId, clientId), isNull(resourceServers.disabledAt)))
          .run();
        cache.delete(clientId);
        return result.changes === 1;
      });
    },
  };
}

function purgeStore(db: Db, commit: Commit): PurgeStore {
  return {
    purge(now, retentionMs) {
      return commit(() => {
        const cutoff = now - retentionMs;
        return db.transaction((tx) => ({
          authorizationCodes: tx.delete(authorizationCodes).where(lt(authorizationCodes.expiresAt, now)).run().changes,
          revokedAccessTokens: tx.delete(revokedAccessTokens).where(lt(revokedAccessTokens.expiresAt, now)).run()
            .changes,
          grants: tx
            .delete(grants)
            .where(or(lt(grants.expiresAt, cutoff), and(isNotNull(grants.revokedAt), lt(grants.revokedAt, cutoff))))
            .run().changes,
          pushedRequests: tx.delete(pushedRequests).where(lt(pushedRequests.expiresAt, now)).run().changes,
          psuSessions: tx.delete(psuSessions).where(lt(psuSessions.expiresAt, now)).run().changes,
        }));
      });
    },
  };
}
