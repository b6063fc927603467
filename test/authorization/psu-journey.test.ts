// The PSU journey's steps without a server: each is a function of the session, the input and the
// time, so the clock is an argument and no test has to rewrite a database row to move in time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PsuAccount } from '../../server/protocol/bank.ts';
import type { PaymentAuthorizationRecord } from '../../server/protocol/payments/ports.ts';
import type { AuthorizationRequest } from '../../server/protocol/psu/ports.ts';
import {
  approvePaymentStep,
  type JourneySettings,
  paymentAuthenticated,
  steps,
} from '../../server/protocol/psu-journey.ts';

const request: AuthorizationRequest = {
  clientId: 'c1',
  redirectUri: 'https://tpp.example/cb',
  scope: 'aisp',
  state: 's',
  codeChallenge: 'x'.repeat(43),
  codeChallengeMethod: 'S256',
};
const production: JourneySettings = {
  mode: 'production',
  sessionInactivitySeconds: 300,
  cbpiiConsentDays: 180,
  codeTtlSeconds: 60,
};
const T0 = 1_700_000_000_000;
const account = (accountId: string, psuId = 'p1'): PsuAccount => ({
  accountId,
  psuId,
  iban: 'FR7630006000011234567890189',
  name: 'Compte',
  type: 'current',
  currency: 'EUR',
});

describe('PSU journey steps (pure)', () => {
  test('start: production begins at the login, the sandbox at the consent; inactivity by the clock', () => {
    const session = steps.start(request, production, T0);
    assert.equal(session.stage, 'login');
    assert.equal(session.expiresAt, T0 + 300_000);
    assert.equal(steps.start(request, { ...production, mode: 'sandbox' }, T0).stage, 'consent');

    assert.equal(steps.guard(session, ['login'], production, T0 + 299_999), undefined);
    const expired = steps.guard(session, ['login'], production, T0 + 300_000)!;
    assert.deepEqual(expired.write, { kind: 'advance', from: 'login', changes: { stage: 'done' } });
    assert.equal(expired.outcome.type, 'respond');
    assert.deepEqual(expired.events, [{ event: 'session.expired' }]);
    assert.deepEqual(expired.lost, { type: 'error', reason: 'session', status: 410 }, 'lost the race: nothing logged');
    assert.deepEqual(steps.guard(session, ['sca'], production, T0)?.outcome, {
      type: 'error',
      reason: 'done',
      status: 409,
    });
  });

  test('login: right or wrong, on to the code; a lock is said at once; the write is conditional', () => {
    const session = steps.start(request, production, T0);
    const ok = steps.login(session, { ok: true, psuId: 'p1' }, production, T0 + 10);
    assert.deepEqual(ok.write, {
      kind: 'advance',
      from: 'login',
      changes: { lastSeenAt: T0 + 10, expiresAt: T0 + 300_010, stage: 'sca', psuId: 'p1' },
    });
    const wrong = steps.login(session, { ok: false, psuId: 'p1' }, production, T0);
    assert.deepEqual(wrong.outcome, { type: 'goto', step: 'otp' });
    assert.equal(wrong.write?.kind === 'advance' && wrong.write.changes.psuId, null);
    const locked = steps.login(session, { ok: false, lockedUntil: T0 + 5, lockedNow: true }, production, T0);
    assert.deepEqual(locked.outcome, { type: 'goto', step: 'login', retry: { lockedUntil: T0 + 5 } });
    assert.equal(locked.events[0]?.event, 'psu.locked');
  });

  test('otp: the SCA time is the clock’s; a failure goes back to the login with one message', () => {
    const session = { ...steps.start(request, production, T0), stage: 'sca' as const, psuId: 'p1' };
    const ok = steps.otp(session, { ok: true, psuId: 'p1' }, production, T0 + 7);
    assert.equal(ok.write?.kind === 'advance' && ok.write.changes.authenticatedAt, T0 + 7);
    for (const verified of [undefined, { ok: false as const }]) {
      const t = steps.otp(session, verified, production, T0);
      assert.deepEqual(t.outcome, { type: 'goto', step: 'login', retry: { failed: true } });
    }
  });

  test('cancel: from login, sca, consent and the payment steps, access_denied to the client; never after the end', () => {
    for (const stage of ['login', 'sca', 'consent', 'payment', 'debtor_account'] as const) {
      const session = { ...steps.start(request, production, T0), stage };
      const t = steps.cancel(session);
      assert.deepEqual(t.write, { kind: 'advance', from: stage, changes: { stage: 'done' } });
      assert.deepEqual(t.outcome, {
        type: 'respond',
        request,
        response: { error: 'access_denied', error_description: 'the PSU cancelled' },
      });
    }
    const done = { ...steps.start(request, production, T0), stage: 'done' as const };
    assert.equal(steps.cancel(done).write, undefined);
  });

  test('approve: only held accounts; the end of the session, consent and code are one write', async () => {
    const session = { ...steps.start(request, production, T0), stage: 'consent' as const, psuId: 'p1' };
    const none = await steps.approve(
      session,
      { psuId: 'p1', accounts: [account('a1'), account('b1', 'p2')], chosen: ['b1'] },
      production,
      T0,
    );
    assert.equal(none.write, undefined);
    assert.deepEqual(none.outcome, {
      type: 'page',
      page: 'consent',
      session,
      problem: { psuId: 'p1', chosen: ['b1'] },
    });

    const t = await steps.approve(
      session,
      { psuId: 'p1', accounts: [account('a1'), account('b1', 'p2')], chosen: ['a1', 'b1', 'a1'], scaAt: T0 - 5 },
      production,
      T0,
    );
    assert.equal(t.write?.kind, 'grant');
    if (t.write?.kind !== 'grant') return;
    assert.deepEqual(t.write.granted.consent.accountIds, ['a1']);
    assert.equal(t.write.granted.code.expiresAt, T0 + 60_000);
    assert.deepEqual(t.write.granted.sca, { at: T0 - 5 });
    assert.deepEqual(t.outcome, { type: 'respond', request, response: { code: t.write.granted.codeSecret } });
  });

  test('payment, production: the account choice comes after the code unless the bank fixed a held one', async () => {
    const paymentRequest = { ...request, scope: 'pisp', paymentAuthorizationId: 'pa1' };
    const session = { ...steps.start(paymentRequest, production, T0), stage: 'payment' as const, psuId: 'p1' };
    const record = (debtorAccount?: { iban: string }): PaymentAuthorizationRecord => ({
      authorizationId: 'pa1',
      resourceServerId: 'rs1',
      clientId: 'c1',
      action: 'initiate',
      paymentRequestResourceId: 'pr1',
      payment: {
        instructedAmount: { amount: '1.00', currency: 'EUR' },
        creditorName: 'X',
        creditorAccount: { iban: 'FR7630004000031234567890143' },
        ...(debtorAccount ? { debtorAccount } : {}),
      },
      paymentHash: 'h1',
      status: 'awaiting_authorisation',
      debtorAccount: null,
      psuId: null,
      scaAt: null,
      createdAt: T0,
      expiresAt: T0 + 900_000,
      updatedAt: T0,
    });
    const accounts = [account('a1')];
    const choose = paymentAuthenticated(session, record(), accounts, production, T0 + 3)!;
    assert.deepEqual(choose.write, {
      kind: 'advance',
      from: 'payment',
      changes: { lastSeenAt: T0 + 3, expiresAt: T0 + 300_003, stage: 'debtor_account', authenticatedAt: T0 + 3 },
    });
    assert.deepEqual(choose.outcome, { type: 'goto', step: 'debtor_account' });
    const held = { iban: 'FR7630006000011234567890189' };
    assert.equal(paymentAuthenticated(session, record(held), accounts, production, T0), undefined, 'fixed, held');
    const other = { iban: 'FR7610107001011234567890129' };
    assert.ok(
      paymentAuthenticated(session, record(other), accounts, production, T0),
      'fixed, not held: the page says so',
    );

    const atChoice = { ...session, stage: 'debtor_account' as const, authenticatedAt: T0 + 3 };
    const shown = { psuId: 'p1', accounts, shownHash: 'h1', record: record(), scaAt: T0 + 3 };
    const none = await approvePaymentStep(atChoice, { ...shown, chosen: undefined }, production, T0 + 9);
    assert.equal(none.outcome.type === 'page' && none.outcome.page, 'debtor_account');
    const granted = await approvePaymentStep(atChoice, { ...shown, chosen: 'a1' }, production, T0 + 9);
    assert.equal(granted.write?.kind === 'grant' && granted.write.from, 'debtor_account');
    assert.equal(granted.write?.kind === 'grant' && granted.write.granted.payment?.scaAt, T0 + 3);
    const changed = await approvePaymentStep(atChoice, { ...shown, chosen: 'a1', shownHash: 'h0' }, production, T0);
    assert.deepEqual(changed.write, { kind: 'advance', from: 'debtor_account', changes: { stage: 'done' } });
  });
});
