// One contract for every store: each method of each storage port (server/protocol/*/ports.ts),
// the races included, run against SQLite and PostgreSQL alike. "A" and "B" are two openings of
// the same database, as two instances (or the server and the CLI) see it, each with its caches.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OpenDatabase } from '../../db/open.ts';
import type { Stores } from '../../db/stores.ts';
import type { PsuAccount } from '../../server/protocol/bank.ts';
import type { PaymentAuthorizationRecord } from '../../server/protocol/payments/ports.ts';
import type {
  AuthenticationEvent,
  AuthenticationEventName,
  AuthorizationCodeRecord,
  ConsentRecord,
  PsuRecord,
} from '../../server/protocol/psu/ports.ts';
import type { AuditEvent, ClientRecord } from '../../server/protocol/registration/ports.ts';
import type { GrantRecord } from '../../server/protocol/token/ports.ts';
import { type Backend, eventually, postgresBackend, sqlite } from './backends.ts';

const NOW = 1_800_000_000_000;
/** The documented bound for a change on one instance to reach the other's caches. */
const COHERENCE_MS = 100;
const RACERS = 8;

let unique = 0;
const id = (prefix: string) => `${prefix}-${++unique}-${Math.random().toString(36).slice(2, 8)}`;

const audit = (clientId: string, action: AuditEvent['action'] = 'client.registered'): AuditEvent => ({
  action,
  clientId,
  actorSubjectDn: 'CN=TPP,O=Test',
  actorThumbprint: 'thumb',
  occurredAt: NOW,
});

const clientRecord = (clientId: string, digest = 'token-1'): ClientRecord => ({
  clientId,
  organizationId: 'PSDFR-ACPR-12345',
  organizationName: 'Test SAS',
  metadata: {
    redirect_uris: ['https://tpp.example/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'aisp',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=TPP,O=Test',
    client_name: 'TPP',
  },
  registrationTokenDigest: digest,
  issuedAt: NOW,
  updatedAt: NOW,
});

const psuRecord = (psuId: string, overrides: Partial<PsuRecord> = {}): PsuRecord => ({
  psuId,
  username: `user-${psuId}`,
  displayName: 'Jeanne Dupont',
  passwordHash: 'scrypt$x',
  totpSecret: 'JBSWY3DPEHPK3PXP',
  status: 'active',
  sandbox: false,
  failedAttempts: 0,
  lockedUntil: null,
  lastTotpStep: null,
  createdAt: NOW,
  ...overrides,
});

const account = (psuId: string, n: number): PsuAccount => ({
  accountId: `${psuId}-acc-${n}`,
  psuId,
  iban: `FR76300060000112345678901${n}`,
  name: `Account ${n}`,
  type: 'current',
  currency: 'EUR',
});

function consentAndCode(clientId: string, psuId: string, expiresIn = 60_000) {
  const consent: ConsentRecord = {
    consentId: id('consent'),
    clientId,
    psuId,
    scope: 'aisp',
    accountIds: [`${psuId}-acc-1`],
    createdAt: NOW,
    expiresAt: NOW + 90 * 86_400_000,
  };
  const code: AuthorizationCodeRecord = {
    codeDigest: id('code'),
    clientId,
    redirectUri: 'https://tpp.example/cb',
    codeChallenge: 'challenge',
    consentId: consent.consentId,
    psuId,
    scope: 'aisp',
    createdAt: NOW,
    expiresAt: NOW + expiresIn,
  };
  return { consent, code };
}

const grantRecord = (consent: ConsentRecord, refresh: string | null = id('rt')): GrantRecord => ({
  grantId: id('grant'),
  clientId: consent.clientId,
  consentId: consent.consentId,
  psuId: consent.psuId,
  scope: consent.scope,
  refreshTokenDigest: refresh,
  previousRefreshTokenDigest: null,
  createdAt: NOW,
  expiresAt: NOW + 86_400_000,
  revokedAt: null,
  revokedReason: null,
});

const count = <T>(values: T[], wanted: T) => values.filter((v) => v === wanted).length;

/** A PSU session at the consent stage, as the journey leaves it before the approval. */
async function consentSession(stores: Stores, psuId: string): Promise<string> {
  const digest = id('session');
  await stores.authorization.sessions.create(digest, {
    sessionId: id('sid'),
    request: {
      clientId: 'c',
      redirectUri: 'https://tpp.example/cb',
      scope: 'aisp',
      codeChallenge: 'x',
      codeChallengeMethod: 'S256',
    },
    psuId,
    stage: 'consent',
    csrfToken: 'csrf',
    authenticatedAt: NOW,
    lastSeenAt: NOW,
    expiresAt: NOW + 600_000,
    createdAt: NOW,
  });
  return digest;
}

/** The PSU's approval: the session ends, the consent and its code are stored. */
async function approve(
  stores: Stores,
  consent: ConsentRecord,
  code: AuthorizationCodeRecord,
  sca?: { at: number },
): Promise<boolean> {
  const sessionDigest = await consentSession(stores, consent.psuId);
  const outcome = await stores.authorization.consents.grant(
    { consent, code, codeSecret: 'secret', ...(sca ? { sca } : {}) },
    { sessionDigest, fromStage: 'consent' },
  );
  return outcome === 'granted';
}

for (const backend of [sqlite, await postgresBackend()] satisfies Backend[]) {
  describe(`store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let database: Awaited<ReturnType<Backend['create']>>;
    let a: Stores;
    let b: Stores;
    const opened: OpenDatabase[] = [];
    before(async () => {
      database = await backend.create();
      opened.push(await database.open(), await database.open());
      a = opened[0]!.stores;
      b = opened[1]!.stores;
    });
    after(async () => {
      await database?.dispose();
    });

    test('health: ping answers; readiness reads, writes, finds every migration applied', async () => {
      await a.health.ping();
      assert.deepEqual(await b.health.readiness(), { read: 'ok', write: 'ok', migrations: 'ok', integrity: 'ok' });
    });

    describe('SigningKeyStore', () => {
      const key = (kid: string, alg: string, createdAt: number) => ({
        kid,
        alg,
        publicJwk: { kty: 'EC', kid },
        privateJwk: { kty: 'EC', kid, d: `secret-${kid}` },
        status: 'published' as const,
        createdAt,
        deactivatedAt: null,
      });
      test('ensure from eight callers over both openings on an empty table: one key per algorithm, one active', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).signingKeys.ensure(
              [key(`es-${i}`, 'ES256', NOW + i), key(`ps-${i}`, 'PS256', NOW + i)],
              'ES256',
              NOW + 10,
            ),
          ),
        );
        assert.deepEqual(
          results.map((r) => r.status),
          Array(RACERS).fill('fulfilled'),
        );
        const keys = await a.signingKeys.listPublished();
        assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'PS256']);
        assert.equal(keys.filter((k) => k.status === 'active').length, 1);
        assert.equal(keys.find((k) => k.status === 'active')?.alg, 'ES256');
        // The private key comes back as it went in (sealed in the row, opened on the way out).
        const es = keys.find((k) => k.alg === 'ES256')!;
        assert.deepEqual(es.privateJwk, { kty: 'EC', kid: es.kid, d: `secret-${es.kid}` });
      });
      test('insertActive rotates; retire refuses the active key and a recent one; version changes', async () => {
        const before = await b.signingKeys.version();
        const oldActive = (await a.signingKeys.list()).find((k) => k.status === 'active')!;
        await b.signingKeys.insertActive(key('es-new', 'ES256', NOW + 100), NOW + 100);
        const after = await a.signingKeys.version();
        assert.notEqual(after, before);
        const listed = await a.signingKeys.list();
        assert.equal(listed.filter((k) => k.status === 'active').length, 1);
        assert.equal(listed.find((k) => k.status === 'active')?.kid, 'es-new');
        assert.equal(listed.find((k) => k.kid === oldActive.kid)?.deactivatedAt, NOW + 100);
        assert.equal('privateJwk' in listed[0]!, false);
        assert.equal(await a.signingKeys.retire('es-new', NOW + 200, NOW + 200), 'active');
        assert.equal(await a.signingKeys.retire(oldActive.kid, NOW + 50, NOW + 200), 'too_recent');
        assert.equal(await b.signingKeys.retire(oldActive.kid, NOW + 100, NOW + 200), 'retired');
        assert.equal(await b.signingKeys.retire(oldActive.kid, NOW + 100, NOW + 200), 'unknown');
        assert.equal(await b.signingKeys.retire('nothing', NOW, NOW), 'unknown');
        assert.equal(
          (await a.signingKeys.listPublished()).some((k) => k.kid === oldActive.kid),
          false,
        );
        assert.equal((await a.signingKeys.list()).find((k) => k.kid === oldActive.kid)?.status, 'retired');
      });
    });

    describe('SecretStore', () => {
      test('every stored secret is sealed, under the one key-encryption key; none is left in clear', async () => {
        // The signing keys above are rows now: their private keys count here, in no `plaintext` entry.
        const sealed = await b.secrets.sealedUnder();
        const kekIds = Object.keys(sealed);
        assert.equal(kekIds.length, 1, JSON.stringify(sealed));
        assert.notEqual(kekIds[0], 'plaintext');
        assert.ok(sealed[kekIds[0]!]! >= 3, JSON.stringify(sealed));
        assert.equal(await a.secrets.sealPlaintext(), 0, 'nothing to seal');
      });
    });

    describe('ClientStore', () => {
      test('insert then find; an unknown or deleted client is not found', async () => {
        const clientId = id('client');
        assert.equal(await a.clients.find(clientId), undefined);
        await a.clients.insert(clientRecord(clientId), audit(clientId));
        assert.deepEqual(await a.clients.find(clientId), { ...clientRecord(clientId), suspendedAt: null });
        assert.deepEqual(await b.clients.find(clientId), { ...clientRecord(clientId), suspendedAt: null });
      });

      test('a client registered on A is found on B although B cached "not found"', async () => {
        const clientId = id('client');
        assert.equal(await b.clients.find(clientId), undefined);
        await a.clients.insert(clientRecord(clientId), audit(clientId));
        await eventually(async () => (await b.clients.find(clientId)) !== undefined, COHERENCE_MS);
      });

      test('replace is conditional on the registration token: a stale token loses and changes nothing', async () => {
        const clientId = id('client');
        await a.clients.insert(clientRecord(clientId), audit(clientId));
        const changes = {
          metadata: { ...clientRecord(clientId).metadata, client_name: 'Renamed' },
          organizationName: 'Renamed SAS',
          registrationTokenDigest: 'token-2',
          updatedAt: NOW + 5,
        };
        assert.equal(await a.clients.replace(clientId, 'wrong', changes, audit(clientId, 'client.updated')), false);
        assert.equal((await a.clients.find(clientId))?.metadata.client_name, 'TPP');
        // Two updates with the same token at once: exactly one wins.
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).clients.replace(
              clientId,
              'token-1',
              { ...changes, registrationTokenDigest: `token-2-${i}` },
              audit(clientId, 'client.updated'),
            ),
          ),
        );
        assert.equal(count(results, true), 1);
        const winner = results.indexOf(true);
        for (const stores of [a, b]) {
          await eventually(
            async () => (await stores.clients.find(clientId))?.registrationTokenDigest === `token-2-${winner}`,
            COHERENCE_MS,
          );
        }
        assert.equal((await a.clients.find(clientId))?.metadata.client_name, 'Renamed');
        // The legal name (O=) of the updating certificate replaces the stored one, on both instances.
        for (const stores of [a, b]) {
          await eventually(
            async () => (await stores.clients.find(clientId))?.organizationName === 'Renamed SAS',
            COHERENCE_MS,
          );
        }
      });

      test('the legal name: stored at insert, null when the certificate had none, in the operators’ view', async () => {
        const named = id('client');
        const unnamed = id('client');
        await a.clients.insert(clientRecord(named), audit(named));
        await a.clients.insert({ ...clientRecord(unnamed), organizationName: null }, audit(unnamed));
        assert.equal((await b.clients.find(named))?.organizationName, 'Test SAS');
        assert.equal((await b.clients.find(unnamed))?.organizationName, null);
        assert.equal((await b.clientAdministration.get(named))?.organizationName, 'Test SAS');
        assert.equal((await b.clientAdministration.get(unnamed))?.organizationName, null);
      });

      test("delete is conditional, revokes the client's grants, and B stops finding it within the bound", async () => {
        const clientId = id('client');
        await a.clients.insert(clientRecord(clientId), audit(clientId));
        const { consent, code } = consentAndCode(clientId, id('psu'));
        assert.equal(await approve(a, consent, code), true);
        const grant = grantRecord(consent);
        assert.equal(await a.authorizationCodes.redeem(code.codeDigest, grant, NOW), true);
        assert.ok(await b.clients.find(clientId));
        assert.equal(await a.clients.delete(clientId, 'wrong', audit(clientId, 'client.deleted')), false);
        assert.equal(await a.clients.delete(clientId, 'token-1', audit(clientId, 'client.deleted')), true);
        assert.equal(await a.clients.delete(clientId, 'token-1', audit(clientId, 'client.deleted')), false);
        assert.equal(await a.clients.find(clientId), undefined);
        await eventually(async () => (await b.clients.find(clientId)) === undefined, COHERENCE_MS);
        const found = await b.grants.find(grant.grantId);
        assert.equal(found?.grant.revokedReason, 'client_deleted');
      });
    });

    describe('PsuStore and the AccountDirectory', () => {
      test('insert with accounts; find, findByUsername, list, listAccounts, accountsOf', async () => {
        const psuId = id('psu');
        await a.authorization.psus.insert(psuRecord(psuId), [account(psuId, 2), account(psuId, 1)]);
        const sandboxId = id('psu');
        await a.authorization.psus.insert(
          psuRecord(sandboxId, { sandbox: true, passwordHash: null, createdAt: NOW + 1 }),
        );
        assert.deepEqual(await b.authorization.psus.find(psuId), psuRecord(psuId));
        assert.deepEqual(await b.authorization.psus.findByUsername(`user-${psuId}`), psuRecord(psuId));
        assert.equal(await b.authorization.psus.find('nobody'), undefined);
        assert.equal(await b.authorization.psus.findByUsername('nobody'), undefined);
        const sandboxIds = (await b.authorization.psus.list({ sandbox: true })).map((p) => p.psuId);
        assert.ok(sandboxIds.includes(sandboxId) && !sandboxIds.includes(psuId));
        const realIds = (await b.authorization.psus.list({ sandbox: false })).map((p) => p.psuId);
        assert.ok(realIds.includes(psuId) && !realIds.includes(sandboxId));
        const all = (await b.authorization.psus.list()).map((p) => p.psuId);
        assert.ok(all.indexOf(psuId) < all.indexOf(sandboxId), 'oldest first');
        // Listed in the order given at insert.
        assert.deepEqual(
          (await b.authorization.psus.listAccounts(psuId)).map((x) => x.accountId),
          [`${psuId}-acc-2`, `${psuId}-acc-1`],
        );
        await a.authorization.psus.addAccount({ ...account(psuId, 3), createdAt: NOW + 10 });
        assert.deepEqual((await b.authorization.accounts.accountsOf(psuId)).at(-1), account(psuId, 3));
        assert.ok((await b.authorization.psus.listAccounts()).length >= 3);
        await assert.rejects(a.authorization.psus.insert(psuRecord(id('psu'), { username: `user-${psuId}` })));
      });

      test('setStatus and resetTotp report whether the PSU exists', async () => {
        const psuId = id('psu');
        await a.authorization.psus.insert(
          psuRecord(psuId, { failedAttempts: 3, lockedUntil: NOW + 1, lastTotpStep: 9 }),
        );
        assert.equal(await b.authorization.psus.setStatus(psuId, 'disabled'), true);
        assert.equal((await a.authorization.psus.find(psuId))?.status, 'disabled');
        assert.equal(await b.authorization.psus.setStatus('nobody', 'disabled'), false);
        assert.equal(await b.authorization.psus.resetTotp(psuId, 'NEWSECRET'), true);
        const psu = await a.authorization.psus.find(psuId);
        assert.deepEqual(
          [psu?.totpSecret, psu?.lastTotpStep, psu?.failedAttempts, psu?.lockedUntil],
          ['NEWSECRET', null, 0, null],
        );
        assert.equal(await b.authorization.psus.resetTotp('nobody', 'X'), false);
      });

      test('lockout: concurrent failures on both instances all count; the limit blocks; an expired block restarts', async () => {
        const psuId = id('psu');
        await a.authorization.psus.insert(psuRecord(psuId));
        const policy = { maxAttempts: 5, lockMs: 60_000 };
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).authorization.psus.recordFailure(psuId, NOW, policy),
          ),
        );
        assert.deepEqual(
          results.map((r) => r.failedAttempts).sort((x, y) => x - y),
          [1, 2, 3, 4, 5, 6, 7, 8],
        );
        for (const r of results) assert.equal(r.lockedUntil, r.failedAttempts >= 5 ? NOW + 60_000 : null);
        const psu = await a.authorization.psus.find(psuId);
        assert.deepEqual([psu?.failedAttempts, psu?.lockedUntil], [8, NOW + 60_000]);
        // Once the block has run out, the next failure starts a fresh count.
        assert.deepEqual(await b.authorization.psus.recordFailure(psuId, NOW + 60_000, policy), {
          failedAttempts: 1,
          lockedUntil: null,
        });
        await a.authorization.psus.recordSuccess(psuId);
        const reset = await b.authorization.psus.find(psuId);
        assert.deepEqual([reset?.failedAttempts, reset?.lockedUntil], [0, null]);
        assert.deepEqual(await a.authorization.psus.recordFailure('nobody', NOW, policy), {
          failedAttempts: 0,
          lockedUntil: null,
        });
      });

      test('a TOTP step is accepted once, by one of eight concurrent callers; an earlier step never', async () => {
        const psuId = id('psu');
        await a.authorization.psus.insert(psuRecord(psuId));
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) => (i % 2 ? a : b).authorization.psus.acceptTotpStep(psuId, 100)),
        );
        assert.equal(count(results, true), 1);
        assert.equal(await a.authorization.psus.acceptTotpStep(psuId, 99), false);
        assert.equal(await b.authorization.psus.acceptTotpStep(psuId, 101), true);
        assert.equal(await b.authorization.psus.acceptTotpStep('nobody', 1), false);
      });
    });

    describe('PsuSessionStore and the AuthenticationEventLog', () => {
      test('create, find on the other instance, advance only from the expected stage (one of eight wins)', async () => {
        const digest = id('session');
        const session = {
          sessionId: id('sid'),
          request: {
            clientId: 'c',
            redirectUri: 'https://tpp.example/cb',
            scope: 'aisp',
            state: 's',
            codeChallenge: 'x',
            codeChallengeMethod: 'S256' as const,
          },
          psuId: null,
          stage: 'login' as const,
          csrfToken: 'csrf',
          authenticatedAt: null,
          lastSeenAt: NOW,
          expiresAt: NOW + 600_000,
          createdAt: NOW,
        };
        await a.authorization.sessions.create(digest, session);
        assert.deepEqual(await b.authorization.sessions.find(digest), session);
        assert.equal(await b.authorization.sessions.find('nothing'), undefined);
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).authorization.sessions.advance(digest, 'login', {
              stage: 'sca',
              psuId: `psu-${i}`,
              lastSeenAt: NOW + i,
            }),
          ),
        );
        assert.equal(count(results, true), 1);
        const advanced = await a.authorization.sessions.find(digest);
        assert.equal(advanced?.stage, 'sca');
        assert.equal(advanced?.psuId, `psu-${results.indexOf(true)}`);
        assert.equal(await a.authorization.sessions.advance(digest, 'login', { stage: 'done' }), false);
        await a.authorization.events.record({
          sessionId: session.sessionId,
          event: 'login.succeeded',
          occurredAt: NOW,
          psuId: 'p',
          clientId: 'c',
          detail: { note: 'x' },
        });
        await b.authorization.events.record({ sessionId: session.sessionId, event: 'sca.failed', occurredAt: NOW });
      });

      test('events given to create, advance and grant are written with them, and only by the write that wins', async () => {
        const client = id('client');
        const psuId = id('psu');
        const digest = id('session');
        const sessionId = id('sid');
        const event = (name: AuthenticationEventName, at: number, extra: Partial<AuthenticationEvent> = {}) => ({
          sessionId,
          event: name,
          occurredAt: NOW + at,
          clientId: client,
          ...extra,
        });
        await a.authorization.sessions.create(
          digest,
          {
            sessionId,
            request: {
              clientId: client,
              redirectUri: 'https://tpp.example/cb',
              scope: 'aisp',
              codeChallenge: 'x',
              codeChallengeMethod: 'S256',
            },
            psuId: null,
            stage: 'login',
            csrfToken: 'csrf',
            authenticatedAt: null,
            lastSeenAt: NOW,
            expiresAt: NOW + 600_000,
            createdAt: NOW,
          },
          [event('session.started', 1, { detail: { scope: 'aisp' } })],
        );
        // Eight logins at once: one moves the session, and only its event is written.
        const logins = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).authorization.sessions.advance(digest, 'login', { stage: 'consent', psuId }, [
              event('login.succeeded', 2, { psuId, detail: { racer: i } }),
            ]),
          ),
        );
        assert.equal(count(logins, true), 1);
        // Eight approvals at once: one consent, one code, one consent.granted.
        const tries = Array.from({ length: RACERS }, () => consentAndCode(client, psuId));
        const grants = await Promise.all(
          tries.map(({ consent, code }, i) =>
            (i % 2 ? a : b).authorization.consents.grant(
              { consent, code, codeSecret: 's' },
              { sessionDigest: digest, fromStage: 'consent' },
              [event('consent.granted', 3, { psuId, detail: { consentId: consent.consentId } })],
            ),
          ),
        );
        assert.equal(count(grants, 'granted'), 1);
        const winner = tries[grants.indexOf('granted')]!;
        assert.deepEqual(await b.authorization.events.list({ clientId: client }), [
          event('session.started', 1, { detail: { scope: 'aisp' } }),
          event('login.succeeded', 2, { psuId, detail: { racer: logins.indexOf(true) } }),
          event('consent.granted', 3, { psuId, detail: { consentId: winner.consent.consentId } }),
        ]);
      });

      test('the log read back: a PSU’s whole sessions, oldest first; a client’s events; both', async () => {
        const [psu, other, client] = [id('psu'), id('psu'), id('client')];
        const [first, second, theirs] = [id('sid'), id('sid'), id('sid')];
        // Written out of order, on both instances: the reader orders by time.
        await a.authorization.events.record({
          sessionId: first,
          event: 'login.succeeded',
          occurredAt: NOW + 2,
          psuId: psu,
          clientId: client,
        });
        await b.authorization.events.record({
          sessionId: first,
          event: 'session.started',
          occurredAt: NOW + 1,
          clientId: client,
        });
        await a.authorization.events.record({
          sessionId: first,
          event: 'session.cancelled',
          occurredAt: NOW + 3,
          clientId: client,
          detail: { at: 'sca' },
        });
        await b.authorization.events.record({
          sessionId: second,
          event: 'login.failed',
          occurredAt: NOW + 4,
          psuId: psu,
          clientId: 'elsewhere',
        });
        await a.authorization.events.record({
          sessionId: theirs,
          event: 'session.started',
          occurredAt: NOW + 5,
          clientId: client,
        });
        await a.authorization.events.record({
          sessionId: theirs,
          event: 'psu.locked',
          occurredAt: NOW + 6,
          psuId: other,
          clientId: client,
        });

        assert.deepEqual(await b.authorization.events.list({ psuId: psu }), [
          { sessionId: first, event: 'session.started', occurredAt: NOW + 1, clientId: client },
          { sessionId: first, event: 'login.succeeded', occurredAt: NOW + 2, psuId: psu, clientId: client },
          {
            sessionId: first,
            event: 'session.cancelled',
            occurredAt: NOW + 3,
            clientId: client,
            detail: { at: 'sca' },
          },
          { sessionId: second, event: 'login.failed', occurredAt: NOW + 4, psuId: psu, clientId: 'elsewhere' },
        ]);
        const ofClient = await a.authorization.events.list({ clientId: client });
        assert.deepEqual(
          ofClient.map((e) => [e.sessionId, e.event]),
          [
            [first, 'session.started'],
            [first, 'login.succeeded'],
            [first, 'session.cancelled'],
            [theirs, 'session.started'],
            [theirs, 'psu.locked'],
          ],
        );
        assert.deepEqual(
          (await a.authorization.events.list({ psuId: other, clientId: client })).map((e) => e.event),
          ['session.started', 'psu.locked'],
        );
        assert.deepEqual(await a.authorization.events.list({ psuId: id('nobody') }), []);
      });
    });

    describe('PushedRequestStore', () => {
      const request = (clientId: string) => ({
        clientId,
        redirectUri: 'https://tpp.example/cb',
        scope: 'aisp',
        codeChallenge: 'x',
        codeChallengeMethod: 'S256' as const,
      });
      test('consumed once by one of eight callers, only by its client, only before expiry', async () => {
        const digest = id('par');
        await a.authorization.pushedRequests.insert(digest, request('c1'), NOW, NOW + 60_000);
        assert.equal(await b.authorization.pushedRequests.consume(digest, 'c2', NOW), undefined);
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).authorization.pushedRequests.consume(digest, 'c1', NOW),
          ),
        );
        assert.equal(results.filter((r) => r !== undefined).length, 1);
        assert.deepEqual(
          results.find((r) => r !== undefined),
          request('c1'),
        );
        const expired = id('par');
        await a.authorization.pushedRequests.insert(expired, request('c1'), NOW, NOW + 60_000);
        assert.equal(await b.authorization.pushedRequests.consume(expired, 'c1', NOW + 60_000), undefined);
      });
    });

    describe('ConsentStore, AuthorizationCodeStore, GrantStore', () => {
      test('grant stores consent and code together; list filters, newest first; find joins the consent', async () => {
        const clientId = id('client');
        const psuId = id('psu');
        const first = consentAndCode(clientId, psuId);
        const second = consentAndCode(clientId, psuId);
        second.consent.createdAt = NOW + 1;
        assert.equal(await approve(a, first.consent, first.code, { at: NOW }), true);
        assert.equal(await approve(b, second.consent, second.code), true);
        const listed = await b.authorization.consents.list({ psuId, clientId });
        assert.deepEqual(
          listed.map((c) => c.consentId),
          [second.consent.consentId, first.consent.consentId],
        );
        assert.deepEqual(listed[1], { ...first.consent, revokedAt: null, revokedBy: null });
        assert.equal((await a.authorization.consents.list({ clientId: 'nobody' })).length, 0);
        assert.ok((await a.authorization.consents.list({})).length >= 2);
        const found = await a.authorizationCodes.find(first.code.codeDigest);
        assert.deepEqual(found?.code, { ...first.code, consumedAt: null, grantId: null });
        assert.deepEqual(found?.consent, { ...first.consent, revokedAt: null });
        assert.equal(await a.authorizationCodes.find('nothing'), undefined);
        // A pisp consent names the payment it approves; both backends must give it back, or the code
        // would be exchanged for a token bound to no payment.
        const paid = consentAndCode(clientId, psuId);
        paid.consent.authorizationId = id('pa');
        assert.equal(await approve(a, paid.consent, paid.code), true);
        assert.equal(
          (await b.authorizationCodes.find(paid.code.codeDigest))?.consent?.authorizationId,
          paid.consent.authorizationId,
        );
        // The same code inserted twice is refused, and the consent of that failed grant is not kept.
        const again = consentAndCode(clientId, psuId);
        await assert.rejects(approve(a, again.consent, first.code));
        assert.equal(
          (await a.authorization.consents.list({ psuId })).some((c) => c.consentId === again.consent.consentId),
          false,
        );
      });

      test('one code redeemed by eight callers over both instances: exactly one grant', async () => {
        const { consent, code } = consentAndCode(id('client'), id('psu'));
        assert.equal(await approve(a, consent, code), true);
        const grantsTried = Array.from({ length: RACERS }, () => grantRecord(consent));
        const results = await Promise.all(
          grantsTried.map((grant, i) => (i % 2 ? a : b).authorizationCodes.redeem(code.codeDigest, grant, NOW + 1)),
        );
        assert.equal(count(results, true), 1);
        const winner = grantsTried[results.indexOf(true)]!;
        const found = await b.authorizationCodes.find(code.codeDigest);
        assert.deepEqual([found?.code.consumedAt, found?.code.grantId], [NOW + 1, winner.grantId]);
        for (const [i, grant] of grantsTried.entries()) {
          assert.equal((await a.grants.find(grant.grantId)) !== undefined, results[i]);
        }
      });

      test('an expired code is never redeemed, even if it was valid when read', async () => {
        const { consent, code } = consentAndCode(id('client'), id('psu'), 1_000);
        assert.equal(await approve(a, consent, code), true);
        assert.equal(await b.authorizationCodes.redeem(code.codeDigest, grantRecord(consent), NOW + 1_000), false);
        assert.equal((await a.authorizationCodes.find(code.codeDigest))?.code.consumedAt, null);
      });

      test('refresh rotation: current, then the previous one once; a token rotated twice at once', async () => {
        const { consent, code } = consentAndCode(id('client'), id('psu'));
        assert.equal(await approve(a, consent, code), true);
        const grant = grantRecord(consent, 'r0');
        await a.authorizationCodes.redeem(code.codeDigest, grant, NOW);
        assert.equal(await b.grants.rotateRefreshToken(grant.grantId, 'r0', 'r1'), true);
        // A retry with the previous token (its response was lost) is accepted once.
        assert.equal(await a.grants.rotateRefreshToken(grant.grantId, 'r0', 'r2'), true);
        assert.equal(await b.grants.rotateRefreshToken(grant.grantId, 'r0', 'r3'), false);
        assert.equal(await b.grants.rotateRefreshToken(grant.grantId, 'r1', 'r3'), false);
        const state = (await a.grants.find(grant.grantId))?.grant;
        assert.deepEqual([state?.refreshTokenDigest, state?.previousRefreshTokenDigest], ['r2', null]);
        // r2 presented by two callers at once (A and B): both rotations answer as the contract
        // says (the current one, then the previous one once) and one refresh token survives.
        const results = await Promise.all([
          a.grants.rotateRefreshToken(grant.grantId, 'r2', 'ra'),
          b.grants.rotateRefreshToken(grant.grantId, 'r2', 'rb'),
        ]);
        assert.deepEqual(results, [true, true]);
        const after = (await b.grants.find(grant.grantId))?.grant;
        assert.ok(['ra', 'rb'].includes(after?.refreshTokenDigest ?? ''));
        assert.equal(after?.previousRefreshTokenDigest, null);
        assert.equal(await a.grants.rotateRefreshToken(grant.grantId, 'r2', 'rc'), false);
        const loser = after?.refreshTokenDigest === 'ra' ? 'rb' : 'ra';
        assert.equal(await a.grants.rotateRefreshToken(grant.grantId, loser, 'rc'), false);
        // Revoked: nothing rotates any more; revoking twice reports false.
        assert.equal(await a.grants.revoke(grant.grantId, 'refresh_token_revoked', NOW + 5), true);
        assert.equal(await b.grants.revoke(grant.grantId, 'refresh_token_revoked', NOW + 6), false);
        assert.equal(await b.grants.rotateRefreshToken(grant.grantId, after!.refreshTokenDigest!, 'rd'), false);
        assert.deepEqual(
          [
            (await a.grants.find(grant.grantId))?.grant.revokedAt,
            (await a.grants.find(grant.grantId))?.consent?.consentId,
          ],
          [NOW + 5, consent.consentId],
        );
        assert.equal(await a.grants.find('nothing'), undefined);
        assert.equal(await a.grants.revoke('nothing', 'code_reuse', NOW), false);
      });

      test('withdrawing a consent revokes its grants in the same commit; twice reports false', async () => {
        const { consent, code } = consentAndCode(id('client'), id('psu'));
        assert.equal(await approve(a, consent, code), true);
        const grant = grantRecord(consent);
        await a.authorizationCodes.redeem(code.codeDigest, grant, NOW);
        const results = await Promise.all([
          a.authorization.consents.revoke(consent.consentId, NOW + 1, 'psu'),
          b.authorization.consents.revoke(consent.consentId, NOW + 2, 'bank'),
        ]);
        assert.equal(count(results, true), 1);
        const found = await b.grants.find(grant.grantId);
        assert.equal(found?.grant.revokedReason, 'consent_revoked');
        assert.ok(found?.consent?.revokedAt);
        assert.equal(await a.authorization.consents.revoke('nothing', NOW, 'tpp'), false);
      });
    });

    describe("ConsentStore.grant as the journey's last step", () => {
      test('two approvals of one session at once: one consent and one code, the loser writes nothing', async () => {
        const psuId = id('psu');
        const sessionDigest = await consentSession(a, psuId);
        const tries = Array.from({ length: RACERS }, () => consentAndCode(id('client'), psuId));
        const results = await Promise.all(
          tries.map(({ consent, code }, i) =>
            (i % 2 ? a : b).authorization.consents.grant(
              { consent, code, codeSecret: 's' },
              { sessionDigest, fromStage: 'consent' },
            ),
          ),
        );
        assert.equal(count(results, 'granted'), 1);
        assert.equal(count(results, 'session'), RACERS - 1);
        for (const [i, { code }] of tries.entries()) {
          assert.equal((await a.authorizationCodes.find(code.codeDigest)) !== undefined, results[i] === 'granted');
        }
        const session = await b.authorization.sessions.find(sessionDigest);
        assert.deepEqual([session?.stage, session?.psuId], ['done', psuId]);
      });
    });

    describe('ClientAdministration', () => {
      const actor = { actorSubjectDn: 'CN=operator', actorThumbprint: 'cli', occurredAt: NOW + 100 };
      test('list, get, suspend, resume, remove (each once), the audit trail; B sees suspensions within the bound', async () => {
        const org = `PSDFR-ACPR-${id('org')}`;
        const ids = [id('client'), id('client')];
        for (const [i, clientId] of ids.entries()) {
          await a.clients.insert(
            { ...clientRecord(clientId), organizationId: org, issuedAt: NOW + i },
            audit(clientId),
          );
        }
        assert.deepEqual(
          (await b.clientAdministration.list({ organizationId: org })).map((c) => c.clientId),
          ids,
        );
        assert.ok((await b.clientAdministration.list()).length >= 2);
        assert.equal((await b.clientAdministration.get(ids[0]!))?.suspendedAt, null);
        assert.equal(await b.clientAdministration.get('nothing'), undefined);
        assert.equal((await b.clients.find(ids[0]!))?.suspendedAt ?? null, null);
        assert.deepEqual(await a.clientAdministration.suspend([ids[0]!, 'nothing'], actor), [ids[0]]);
        assert.deepEqual(await a.clientAdministration.suspend([ids[0]!], actor), []);
        assert.deepEqual(
          (await b.clientAdministration.list({ organizationId: org, suspended: true })).map((c) => c.clientId),
          [ids[0]],
        );
        await eventually(async () => (await b.clients.find(ids[0]!))?.suspendedAt === NOW + 100, COHERENCE_MS);
        assert.deepEqual(await b.clientAdministration.resume(ids, actor), [ids[0]]);
        assert.deepEqual(await b.clientAdministration.list({ organizationId: org, suspended: true }), []);
        await eventually(async () => ((await a.clients.find(ids[0]!))?.suspendedAt ?? null) === null, COHERENCE_MS);
        const { consent, code } = consentAndCode(ids[1]!, id('psu'));
        assert.equal(await approve(a, consent, code), true);
        const grant = grantRecord(consent);
        await a.authorizationCodes.redeem(code.codeDigest, grant, NOW);
        assert.ok(await b.clients.find(ids[1]!));
        assert.deepEqual(await a.clientAdministration.remove([ids[1]!], actor), [ids[1]]);
        assert.deepEqual(await a.clientAdministration.remove([ids[1]!], actor), []);
        await eventually(async () => (await b.clients.find(ids[1]!)) === undefined, COHERENCE_MS);
        assert.equal((await b.grants.find(grant.grantId))?.grant.revokedReason, 'client_deleted');
        assert.equal((await b.clientAdministration.get(ids[1]!))?.deletedAt, NOW + 100);
        assert.deepEqual(
          (await b.clientAdministration.auditTrail(ids[0]!)).map((e) => e.action),
          ['client.registered', 'client.suspended', 'client.resumed'],
        );
      });
    });

    describe('PsuStore.remove and removeAccount', () => {
      test('removing an account withdraws the consents naming it; removing the PSU withdraws the rest', async () => {
        const psuId = id('psu');
        await a.authorization.psus.insert(psuRecord(psuId), [account(psuId, 1), account(psuId, 2)]);
        const first = consentAndCode(id('client'), psuId);
        first.consent.accountIds = [`${psuId}-acc-1`];
        const second = consentAndCode(id('client'), psuId);
        second.consent.accountIds = [`${psuId}-acc-2`];
        assert.equal(await approve(a, first.consent, first.code), true);
        assert.equal(await approve(a, second.consent, second.code), true);
        const grant = grantRecord(first.consent);
        await a.authorizationCodes.redeem(first.code.codeDigest, grant, NOW);
        assert.deepEqual(await b.authorization.psus.removeAccount(`${psuId}-acc-1`, NOW + 1), { consentsRevoked: 1 });
        assert.equal(await b.authorization.psus.removeAccount(`${psuId}-acc-1`, NOW + 1), undefined);
        assert.equal((await a.grants.find(grant.grantId))?.grant.revokedReason, 'consent_revoked');
        assert.deepEqual(
          (await a.authorization.psus.listAccounts(psuId)).map((x) => x.accountId),
          [`${psuId}-acc-2`],
        );
        assert.deepEqual(await a.authorization.psus.remove(psuId, NOW + 2), { consentsRevoked: 1 });
        assert.equal(await a.authorization.psus.remove(psuId, NOW + 2), undefined);
        assert.equal(await b.authorization.psus.find(psuId), undefined);
        assert.deepEqual(await b.authorization.psus.listAccounts(psuId), []);
        const consents = await b.authorization.consents.list({ psuId });
        assert.ok(consents.every((c) => c.revokedBy === 'bank'));
      });
    });

    describe('PaymentAuthorizationStore', () => {
      const payment = (
        status: PaymentAuthorizationRecord['status'],
        resourceId = id('pmt'),
      ): PaymentAuthorizationRecord => ({
        authorizationId: id('pa'),
        resourceServerId: 'rs-1',
        clientId: 'client-pisp',
        action: 'initiate',
        paymentRequestResourceId: resourceId,
        payment: {
          instructedAmount: { amount: '12.50', currency: 'EUR' },
          creditorName: 'Merchant',
          creditorAccount: { iban: 'FR7630006000011234567890189' },
        } as PaymentAuthorizationRecord['payment'],
        paymentHash: 'hash',
        status,
        debtorAccount: null,
        psuId: null,
        scaAt: null,
        createdAt: NOW,
        expiresAt: NOW + 600_000,
        updatedAt: NOW,
      });
      test('register once per client, resource and action: a retry gets the existing row', async () => {
        const record = payment('awaiting_authorisation');
        assert.deepEqual(await a.payments.register(record), { created: true, record });
        const retry = await b.payments.register({ ...record, authorizationId: id('pa') });
        assert.deepEqual(retry, { created: false, record });
        assert.deepEqual(await b.payments.find(record.authorizationId), record);
        assert.equal(await b.payments.find('nothing'), undefined);
      });
      test('state changes are conditional: one of eight consumes wins; reject and withdraw only from their states', async () => {
        const authorised = payment('authorised');
        await a.payments.register(authorised);
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).payments.consume(authorised.authorizationId, NOW + 1),
          ),
        );
        assert.equal(count(results, true), 1);
        assert.equal((await b.payments.find(authorised.authorizationId))?.status, 'consumed');
        assert.equal(await a.payments.withdraw(authorised.authorizationId, NOW + 2), false);
        const awaiting = payment('awaiting_authorisation');
        await b.payments.register(awaiting);
        assert.equal(await a.payments.consume(awaiting.authorizationId, NOW + 1), false);
        assert.equal(await a.payments.reject(awaiting.authorizationId, NOW + 1), true);
        assert.equal(await b.payments.reject(awaiting.authorizationId, NOW + 2), false);
        const withdrawn = payment('authorised');
        await b.payments.register(withdrawn);
        assert.equal(await a.payments.withdraw(withdrawn.authorizationId, NOW + 1), true);
        assert.deepEqual(
          [
            (await a.payments.find(withdrawn.authorizationId))?.status,
            (await a.payments.find(withdrawn.authorizationId))?.updatedAt,
          ],
          ['withdrawn', NOW + 1],
        );
      });
    });

    describe('RevokedAccessTokenStore', () => {
      test('revoked at once on the writer, on the other instance within the bound, although it had cached "not revoked"', async () => {
        const jti = id('jti');
        assert.equal(await a.revokedAccessTokens.isRevoked(jti), false);
        assert.equal(await b.revokedAccessTokens.isRevoked(jti), false);
        await b.revokedAccessTokens.revoke({ jti, clientId: 'c', expiresAt: NOW + 60_000 }, NOW);
        assert.equal(await b.revokedAccessTokens.isRevoked(jti), true);
        const took = await eventually(() => a.revokedAccessTokens.isRevoked(jti), COHERENCE_MS);
        assert.ok(took <= COHERENCE_MS);
        // Revoking twice is not an error.
        await a.revokedAccessTokens.revoke({ jti, clientId: 'c', expiresAt: NOW + 60_000 }, NOW + 1);
        assert.equal(await a.revokedAccessTokens.isRevoked(jti), true);
      });
    });

    describe('ResourceServerStore', () => {
      test('insert, find, list; disabled on one instance, refused by the other within the bound', async () => {
        const clientId = id('rs');
        const record = { clientId, name: 'Accounts API', secretDigest: 'd', createdAt: NOW, disabledAt: null };
        assert.equal(await b.resourceServers.find(clientId), undefined);
        await a.resourceServers.insert(record);
        await eventually(async () => (await b.resourceServers.find(clientId)) !== undefined, COHERENCE_MS);
        assert.deepEqual(await b.resourceServers.find(clientId), record);
        assert.ok((await b.resourceServers.list()).some((r) => r.clientId === clientId));
        assert.equal(await a.resourceServers.disable(clientId, NOW + 1), true);
        assert.equal(await a.resourceServers.disable(clientId, NOW + 2), false);
        assert.equal(await a.resourceServers.find(clientId), undefined);
        await eventually(async () => (await b.resourceServers.find(clientId)) === undefined, COHERENCE_MS);
        assert.equal((await b.resourceServers.list()).find((r) => r.clientId === clientId)?.disabledAt, NOW + 1);
        assert.equal(await a.resourceServers.disable('nothing', NOW), false);
      });
    });

    describe('PermissionStores (the permission dashboard)', () => {
      const DAY = 86_400_000;
      const paymentOf = (
        psuId: string | null,
        status: PaymentAuthorizationRecord['status'],
        updatedAt: number,
      ): PaymentAuthorizationRecord => ({
        authorizationId: id('pa'),
        resourceServerId: 'rs-1',
        clientId: 'client-pisp',
        action: 'initiate',
        paymentRequestResourceId: id('pmt'),
        payment: {
          instructedAmount: { amount: '12.50', currency: 'EUR' },
          creditorName: 'Merchant',
          creditorAccount: { iban: 'FR7630006000011234567890189' },
        } as PaymentAuthorizationRecord['payment'],
        paymentHash: 'hash',
        status,
        debtorAccount: psuId ? { iban: 'FR7630006000011234567890189' } : null,
        psuId,
        scaAt: psuId ? updatedAt : null,
        createdAt: updatedAt - 60_000,
        expiresAt: updatedAt + 600_000,
        updatedAt,
      });

      test('sessions: create, find on the other instance, advance only from the expected stage (one of eight wins)', async () => {
        const digest = id('dash');
        const session = {
          sessionId: id('sid'),
          psuId: null,
          stage: 'login' as const,
          csrfToken: 'csrf',
          authenticatedAt: null,
          lastSeenAt: NOW,
          expiresAt: NOW + 300_000,
          createdAt: NOW,
        };
        await a.permissions.sessions.create(digest, session);
        assert.deepEqual(await b.permissions.sessions.find(digest), session);
        assert.equal(await b.permissions.sessions.find('unknown'), undefined);
        assert.equal(await a.permissions.sessions.advance(digest, 'sca', { stage: 'dashboard' }), false);
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? a : b).permissions.sessions.advance(digest, 'login', {
              stage: 'sca',
              psuId: `psu-${i}`,
              lastSeenAt: NOW + 1,
            }),
          ),
        );
        assert.equal(count(results, true), 1);
        const moved = await a.permissions.sessions.find(digest);
        assert.equal(moved?.stage, 'sca');
        assert.match(moved?.psuId ?? '', /^psu-\d$/);
        assert.equal(moved?.lastSeenAt, NOW + 1);
      });

      test('lastScaTimes: the last SCA per TPP; paymentsOf: authorised and consumed since, newest first', async () => {
        const psuId = id('psu');
        const first = consentAndCode('client-x', psuId);
        assert.equal(await approve(a, first.consent, first.code, { at: NOW - 1000 }), true);
        const second = consentAndCode('client-x', psuId);
        assert.equal(await approve(b, second.consent, second.code, { at: NOW - 10 }), true);
        const other = consentAndCode('client-y', psuId);
        assert.equal(await approve(a, other.consent, other.code, { at: NOW - 500 }), true);
        assert.deepEqual([...(await b.permissions.lastScaTimes(psuId))].sort(), [
          ['client-x', NOW - 10],
          ['client-y', NOW - 500],
        ]);
        assert.deepEqual([...(await a.permissions.lastScaTimes('nobody'))], []);

        const old = paymentOf(psuId, 'consumed', NOW - 10 * DAY);
        const consumed = paymentOf(psuId, 'consumed', NOW - DAY);
        const authorised = paymentOf(psuId, 'authorised', NOW);
        for (const p of [
          old,
          consumed,
          authorised,
          paymentOf(psuId, 'rejected', NOW),
          paymentOf(null, 'authorised', NOW),
        ]) {
          await a.payments.register(p);
        }
        assert.deepEqual(
          (await b.permissions.paymentsOf(psuId, NOW - 5 * DAY)).map((p) => p.authorizationId),
          [authorised.authorizationId, consumed.authorizationId],
        );
        assert.deepEqual(await b.permissions.paymentsOf(psuId, 0).then((l) => l[2]), old);
      });

      test('the purge keeps two years of history: younger withdrawn or expired consents and payments stay', async () => {
        const LATER = NOW + 3 * 365 * DAY;
        const TWO_YEARS = 2 * 365 * DAY;
        const psuId = id('psu');
        const consentAt = async (createdAt: number, expiresAt: number, revokedAt?: number) => {
          const { consent, code } = consentAndCode('client-h', psuId);
          consent.createdAt = createdAt;
          consent.expiresAt = expiresAt;
          assert.equal(await approve(a, consent, code), true);
          if (revokedAt !== undefined)
            assert.equal(await b.authorization.consents.revoke(consent.consentId, revokedAt, 'psu'), true);
          return consent.consentId;
        };
        const withdrawnRecently = await consentAt(LATER - 400 * DAY, LATER + DAY, LATER - TWO_YEARS + DAY);
        const withdrawnLongAgo = await consentAt(LATER - 800 * DAY, LATER + DAY, LATER - TWO_YEARS - DAY);
        const expiredRecently = await consentAt(LATER - 900 * DAY, LATER - TWO_YEARS + DAY);
        const expiredLongAgo = await consentAt(LATER - 900 * DAY, LATER - TWO_YEARS - DAY);
        const active = await consentAt(LATER - 10 * DAY, LATER + 170 * DAY);
        const youngPayment = paymentOf(psuId, 'consumed', LATER - TWO_YEARS + DAY);
        const oldPayment = paymentOf(psuId, 'authorised', LATER - TWO_YEARS - DAY);
        await a.payments.register(youngPayment);
        await a.payments.register(oldPayment);
        const sessionOf = (expiresAt: number) => ({
          sessionId: id('sid'),
          psuId,
          stage: 'dashboard' as const,
          csrfToken: 'x',
          authenticatedAt: LATER - 400_000,
          lastSeenAt: expiresAt - 300_000,
          expiresAt,
          createdAt: LATER - 400_000,
        });
        const [ended, live] = [id('dash'), id('dash')];
        await a.permissions.sessions.create(ended, sessionOf(LATER - 1));
        await a.permissions.sessions.create(live, sessionOf(LATER + 60_000));

        const counts = await b.permissions.purge(LATER, TWO_YEARS);
        assert.ok(counts.consents >= 2 && counts.paymentAuthorizations >= 1 && counts.permissionSessions >= 1);
        const kept = (await a.authorization.consents.list({ psuId })).map((c) => c.consentId);
        assert.deepEqual(kept.sort(), [withdrawnRecently, expiredRecently, active].sort());
        for (const gone of [withdrawnLongAgo, expiredLongAgo]) assert.ok(!kept.includes(gone), 'older than two years');
        assert.deepEqual(
          (await a.permissions.paymentsOf(psuId, 0)).map((p) => p.authorizationId),
          [youngPayment.authorizationId],
        );
        assert.equal(await b.payments.find(oldPayment.authorizationId), undefined);
        assert.equal(await b.permissions.sessions.find(ended), undefined);
        assert.ok(await b.permissions.sessions.find(live));
        assert.deepEqual(await a.permissions.purge(LATER, TWO_YEARS), {
          permissionSessions: 0,
          consents: 0,
          paymentAuthorizations: 0,
        });
      });
    });

    describe('PurgeStore', () => {
      test('deletes what can no longer be used, and only that', async () => {
        const FUTURE = NOW + 10 * 365 * 86_400_000;
        // Everything the tests above wrote expires before FUTURE; grants 'retention' after it.
        const { consent, code } = consentAndCode(id('client'), id('psu'));
        assert.equal(await approve(a, consent, code), true);
        const live = grantRecord(consent);
        live.expiresAt = FUTURE + 10 * 86_400_000;
        await a.authorizationCodes.redeem(code.codeDigest, live, NOW);
        await a.authorization.pushedRequests.insert(
          id('par'),
          {
            clientId: 'c',
            redirectUri: 'https://x/cb',
            scope: 'aisp',
            codeChallenge: 'x',
            codeChallengeMethod: 'S256',
          },
          FUTURE,
          FUTURE + 60_000,
        );
        const counts = await b.purge.purge(FUTURE, 86_400_000);
        assert.ok(counts.authorizationCodes >= 1);
        assert.ok(counts.revokedAccessTokens >= 1);
        assert.ok(counts.grants >= 1);
        assert.ok(counts.pushedRequests >= 1);
        assert.ok(counts.psuSessions >= 1);
        assert.ok(await a.grants.find(live.grantId), 'a grant still valid is kept');
        const second = await a.purge.purge(FUTURE, 86_400_000);
        assert.deepEqual(second, {
          authorizationCodes: 0,
          revokedAccessTokens: 0,
          grants: 0,
          pushedRequests: 0,
          psuSessions: 0,
        });
      });

      test('on a database of its own: exactly what expired goes, ended grants stay for the retention period', async () => {
        // Formerly test/tokens/purge.test.ts, in SQL on the SQLite file; now through the ports, on both backends.
        const DAY = 86_400_000;
        const own = await backend.create();
        try {
          const s = (await own.open()).stores;
          const named = async (expiresIn: number) => {
            const { consent, code } = consentAndCode(id('client'), id('psu'), expiresIn);
            assert.equal(await approve(s, consent, code), true);
            return { consent, code };
          };
          const expiredCode = (await named(-1)).code.codeDigest;
          const liveCode = (await named(30_000)).code.codeDigest;
          await s.revokedAccessTokens.revoke({ jti: 'old', clientId: 'c', expiresAt: NOW - 1 }, NOW - 300_000);
          await s.revokedAccessTokens.revoke({ jti: 'young', clientId: 'c', expiresAt: NOW + 60_000 }, NOW);
          const grant = async (expiresAt: number, revokedAt: number | null) => {
            const { consent, code } = await named(30_000);
            const record = { ...grantRecord(consent), createdAt: NOW - 200 * DAY, expiresAt };
            assert.equal(await s.authorizationCodes.redeem(code.codeDigest, record, NOW), true);
            if (revokedAt !== null)
              assert.equal(await s.grants.revoke(record.grantId, 'refresh_token_revoked', revokedAt), true);
            return record.grantId;
          };
          const grants = {
            expiredLongAgo: await grant(NOW - 31 * DAY, null),
            expiredRecently: await grant(NOW - DAY, null),
            revokedLongAgo: await grant(NOW + 100 * DAY, NOW - 31 * DAY),
            revokedRecently: await grant(NOW + 100 * DAY, NOW - DAY),
            live: await grant(NOW + 100 * DAY, null),
          };
          const request = {
            clientId: 'c',
            redirectUri: 'https://x/cb',
            scope: 'aisp',
            codeChallenge: 'x',
            codeChallengeMethod: 'S256' as const,
          };
          await s.authorization.pushedRequests.insert('par-old', request, NOW - 90_000, NOW - 1);
          await s.authorization.pushedRequests.insert('par-new', request, NOW, NOW + 60_000);
          const session = async (digest: string, expiresAt: number) => {
            await s.authorization.sessions.create(digest, {
              sessionId: id('sid'),
              request,
              psuId: null,
              stage: 'login',
              csrfToken: 'x',
              authenticatedAt: null,
              lastSeenAt: NOW - 1000,
              expiresAt,
              createdAt: NOW - 1000,
            });
          };
          await session('s-old', NOW - 1);
          await session('s-new', NOW + 60_000);

          assert.deepEqual(await s.purge.purge(NOW, 30 * DAY), {
            authorizationCodes: 1,
            revokedAccessTokens: 1,
            grants: 2,
            pushedRequests: 1,
            psuSessions: 1,
          });
          assert.equal(await s.authorizationCodes.find(expiredCode), undefined);
          assert.ok(await s.authorizationCodes.find(liveCode));
          assert.equal(await s.revokedAccessTokens.isRevoked('young'), true);
          const kept = await Promise.all(
            Object.values(grants).map(async (g) => (await s.grants.find(g)) !== undefined),
          );
          assert.deepEqual(Object.fromEntries(Object.keys(grants).map((name, i) => [name, kept[i]])), {
            expiredLongAgo: false,
            expiredRecently: true,
            revokedLongAgo: false,
            revokedRecently: true,
            live: true,
          });
          assert.equal(await s.authorization.sessions.find('s-old'), undefined);
          assert.ok(await s.authorization.sessions.find('s-new'));
          assert.ok(await s.authorization.pushedRequests.consume('par-new', 'c', NOW));
          assert.deepEqual(await s.purge.purge(NOW, 30 * DAY), {
            authorizationCodes: 0,
            revokedAccessTokens: 0,
            grants: 0,
            pushedRequests: 0,
            psuSessions: 0,
          });
        } finally {
          await own.dispose();
        }
      });
    });
  });
}
