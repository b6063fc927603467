// A consent and an authorization code written into the test server's database through the store
// ports, as the authorization endpoint does on PSU approval: unit-level token tests need no browser
// or PSU page, and run on either backend (PSD2_TEST_BACKEND=postgres).
import { base64url } from 'jose';
import type { PaymentApproval } from '../../server/protocol/payments/ports.ts';
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
  /** Scope pisp: the payment authorisation this approval authorises (dynamic linking). */
  payment?: Omit<PaymentApproval, 'scaAt'>;
}

/**
 * A consent and its code, written as the PSU's approval writes them (ConsentStore.grant, through
 * the store ports): a PSU session at its last step, then the grant that ends it.
 */
export async function issueCode(server: TestServer, options: CodeOptions): Promise<IssuedCode> {
  const now = Date.now();
  const code = randomSecret(32);
  const codeVerifier = randomSecret(32);
  const challenge = base64url.encode(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(codeVerifier))),
  );
  const psuId = options.psuId ?? 'psu-alice';
  const scope = options.scope ?? 'aisp';
  const consentId = `consent-${randomSecret(9)}`;
  if (!server.stores) throw new Error('issueCode: a server from startTestServer (it opens the stores)');
  const { authorization } = await server.stores();
  const sessionDigest = await secretDigest(randomSecret(32));
  await authorization.sessions.create(sessionDigest, {
    sessionId: randomSecret(16),
    request: {
      clientId: options.clientId,
      redirectUri: options.redirectUri,
      scope,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    },
    psuId,
    stage: 'consent',
    csrfToken: randomSecret(16),
    authenticatedAt: now,
    lastSeenAt: now,
    expiresAt: now + 600_000,
    createdAt: now,
  });
  const outcome = await authorization.consents.grant(
    {
      consent: {
        consentId,
        clientId: options.clientId,
        psuId,
        scope,
        accountIds: options.accountIds ?? ['acc-1', 'acc-2'],
        ...(options.payment ? { authorizationId: options.payment.authorizationId } : {}),
        createdAt: now,
        expiresAt: now + (options.consentLifetime ?? 180 * 86_400_000),
      },
      code: {
        codeDigest: await secretDigest(code),
        clientId: options.clientId,
        redirectUri: options.redirectUri,
        codeChallenge: challenge,
        consentId,
        psuId,
        scope,
        createdAt: now,
        expiresAt: now + (options.codeLifetime ?? 60_000),
      },
      codeSecret: code,
      ...(options.payment ? { payment: { ...options.payment, scaAt: now }, sca: { at: now } } : {}),
    },
    { sessionDigest, fromStage: 'consent' },
  );
  if (outcome !== 'granted') throw new Error(`issueCode: the grant was refused (${outcome})`);
  return { code, codeVerifier, consentId, psuId, redirectUri: options.redirectUri };
}

/**
 * A payment authorisation moved to `authorised` as the PSU's approval on the payment page moves it
 * (through ConsentStore.grant, with the payment's own hash), for back-channel tests.
 */
export async function authorisePayment(server: TestServer, authorizationId: string): Promise<void> {
  if (!server.stores) throw new Error('authorisePayment: a server from startTestServer (it opens the stores)');
  const record = await (await server.stores()).payments.find(authorizationId);
  if (!record) throw new Error(`authorisePayment: no payment authorisation ${authorizationId}`);
  await issueCode(server, {
    clientId: record.clientId,
    redirectUri: 'https://tpp.example/callback',
    scope: 'pisp',
    accountIds: [],
    payment: {
      authorizationId,
      paymentHash: record.paymentHash,
      psuId: 'psu-alice',
      debtorAccount: { iban: 'FR7630006000011234567890189' },
    },
  });
}
