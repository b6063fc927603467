// The PSU's journey at the authorization endpoint (RTS art. 4 and 29) as explicit steps:
// login -> sca -> consent -> done in production, consent -> done in the sandbox; for a payment
// login -> payment (the code) [-> debtor_account] -> done in production, payment -> done in the
// sandbox; and a way out (cancel) from every step. Each step is a function of the session, the input and the time the
// injected clock gave; it returns a Transition (the session write, the audit events and what the
// browser gets next) and writes nothing itself. `createPsuJourney` applies a transition: the
// session write is conditional on the session still being at the step, and only when it wins are
// the events recorded and the outcome shown. The last step (session done + consent + code) is one
// write. The HTTP adapter (http/routes/authorization.ts) only maps outcomes to pages and redirects.
import { timingSafeEqual } from 'node:crypto';
import { AISP_CONSENT_DAYS, prepareConsent } from './authorization.ts';
import type { AccountDirectory, PsuAccount, PsuAuthenticationResult, PsuAuthenticator } from './bank.ts';
import type { OAuthErrorCode } from './errors.ts';
import { effectiveStatus } from './payments/back-channel.ts';
import type { PaymentAuthorizationRecord, PaymentAuthorizationStore } from './payments/ports.ts';
import type {
  AuthenticationEvent,
  AuthenticationEventLog,
  AuthenticationEventName,
  AuthorizationRequest,
  ConsentStore,
  GrantedConsent,
  PsuRecord,
  PsuSession,
  PsuSessionStage,
  PsuSessionStore,
  PsuStore,
} from './psu/ports.ts';
import { randomSecret, secretDigest } from './secrets.ts';

export type Clock = () => number;

export interface JourneySettings {
  mode: 'sandbox' | 'production';
  /** RTS art. 4(3)(d): 300 s. */
  sessionInactivitySeconds: number;
  cbpiiConsentDays: number;
  codeTtlSeconds: number;
}

/** The pages of the journey; the HTTP adapter renders them from the session. */
export type JourneyPage = 'login' | 'otp' | 'consent' | 'sandbox' | 'payment' | 'debtor_account';

/** Why the PSU sees our error page instead of the next step. */
export type JourneyFailure =
  | { reason: 'session'; status: 410 }
  | { reason: 'done'; status: 409 }
  | { reason: 'csrf'; status: 403 }
  | { reason: 'invalid_request'; status: 400 }
  /** The payment was withdrawn, expired or changed: no code; the page links back with access_denied. */
  | { reason: 'payment_changed'; status: 409; request: AuthorizationRequest };

export type AuthorizationResponse = { code: string } | { error: OAuthErrorCode; error_description?: string };

export type JourneyOutcome =
  /** Render `page` for `session`; `problem` re-renders a form with what the PSU chose. */
  | { type: 'page'; page: JourneyPage; session: PsuSession; problem?: { psuId?: string; chosen: string[] } }
  /** Send the browser to another step's page (303), with the single failure message if any. */
  | {
      type: 'goto';
      step: 'login' | 'otp' | 'consent' | 'payment' | 'debtor_account';
      retry?: { failed: true } | { lockedUntil: number };
    }
  /** The end: the client's redirect URI with the response, `state` and `iss`. */
  | { type: 'respond'; request: AuthorizationRequest; response: AuthorizationResponse }
  | ({ type: 'error' } & JourneyFailure);

export interface JourneyEvent {
  event: AuthenticationEventName;
  psuId?: string;
  detail?: Record<string, unknown>;
}

type SessionChanges = Partial<Pick<PsuSession, 'psuId' | 'stage' | 'authenticatedAt' | 'lastSeenAt' | 'expiresAt'>>;

export interface Transition {
  /** The session write, conditional on the session still being at `from`. */
  write?:
    | { kind: 'advance'; from: PsuSessionStage; changes: SessionChanges }
    /** The last step: the session ends and the consent and code are stored, in one transaction. */
    | { kind: 'grant'; from: PsuSessionStage; psuId: string; granted: GrantedConsent };
  /** Recorded only if the write won (RTS art. 29: a request that lost a race did nothing). */
  events: JourneyEvent[];
  outcome: JourneyOutcome;
  /** What the PSU sees when the write lost the race; default: the request is already completed. */
  lost?: JourneyOutcome;
}

const paymentChanged = (session: PsuSession): JourneyOutcome => ({
  type: 'error',
  reason: 'payment_changed',
  status: 409,
  request: session.request,
});
/** How long the code of an authorised payment may still be exchanged: the consent behind it. */
const PAYMENT_CONSENT_MS = 10 * 60_000;

const fail = (failure: JourneyFailure): Transition => ({ events: [], outcome: { type: 'error', ...failure } });
const DONE: JourneyFailure = { reason: 'done', status: 409 };
const NO_SESSION: JourneyFailure = { reason: 'session', status: 410 };
const STEPS_WITH_A_WAY_OUT: PsuSessionStage[] = ['login', 'sca', 'consent', 'payment', 'debtor_account'];
const isPayment = (session: Pick<PsuSession, 'request'>) => session.request.paymentAuthorizationId !== undefined;

/** Constant-time comparison of the form's CSRF token with the session's. */
export function sameToken(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The pure steps; exported for unit tests. `now` always comes from the journey's clock. */
export const steps = {
  /** A new session for a checked request: the first stage depends on the mode. */
  start(request: AuthorizationRequest, settings: JourneySettings, now: number): PsuSession {
    return {
      sessionId: globalThis.crypto.randomUUID(),
      request,
      psuId: null,
      stage: settings.mode === 'production' ? 'login' : request.paymentAuthorizationId ? 'payment' : 'consent',
      csrfToken: randomSecret(32),
      authenticatedAt: null,
      lastSeenAt: now,
      expiresAt: now + settings.sessionInactivitySeconds * 1000,
      createdAt: now,
    };
  },

  /**
   * Before any step: the session must be active (RTS art. 4(3)(d)) and at one of `stages`. An
   * inactive session ends with `access_denied` to the client. Returns undefined to go on.
   */
  guard(
    session: PsuSession,
    stages: PsuSessionStage[],
    settings: JourneySettings,
    now: number,
  ): Transition | undefined {
    if (session.stage === 'done') return fail(DONE);
    if (session.lastSeenAt + settings.sessionInactivitySeconds * 1000 <= now || session.expiresAt <= now) {
      return {
        write: { kind: 'advance', from: session.stage, changes: { stage: 'done' } },
        events: [{ event: 'session.expired' }],
        outcome: {
          type: 'respond',
          request: session.request,
          response: {
            error: 'access_denied',
            error_description: 'the PSU session ended after 5 minutes of inactivity',
          },
        },
        lost: { type: 'error', ...NO_SESSION },
      };
    }
    if (!stages.includes(session.stage)) return fail(DONE);
    return undefined;
  },

  /** Showing the page of the current stage keeps the session alive. */
  view(session: PsuSession, page: JourneyPage, settings: JourneySettings, now: number): Transition {
    return {
      write: { kind: 'advance', from: session.stage, changes: refreshed(settings, now) },
      events: [],
      outcome: { type: 'page', page, session },
    };
  },

  /**
   * First factor. Right or wrong, the PSU is asked for the code: only the end result is shown
   * (RTS art. 4(3)(a)); a blocked PSU is told at once (art. 4(3)(b)).
   */
  login(_session: PsuSession, verified: PsuAuthenticationResult, settings: JourneySettings, now: number): Transition {
    if (!verified.ok && verified.lockedUntil !== undefined) {
      return {
        write: { kind: 'advance', from: 'login', changes: refreshed(settings, now) },
        events: [
          {
            event: verified.lockedNow ? 'psu.locked' : 'login.failed',
            psuId: verified.psuId,
            detail: { lockedUntil: verified.lockedUntil },
          },
        ],
        outcome: { type: 'goto', step: 'login', retry: { lockedUntil: verified.lockedUntil } },
      };
    }
    // A payment's second factor is entered on the page that shows amount and payee (RTS art. 5(1)(a)).
    const next = isPayment(_session) ? 'payment' : 'sca';
    return {
      write: {
        kind: 'advance',
        from: 'login',
        changes: { ...refreshed(settings, now), stage: next, psuId: verified.ok ? verified.psuId : null },
      },
      events: [
        verified.ok
          ? { event: 'login.succeeded', psuId: verified.psuId }
          : { event: 'login.failed', psuId: verified.psuId, detail: { factor: 'knowledge' } },
      ],
      outcome: { type: 'goto', step: next === 'payment' ? 'payment' : 'otp' },
    };
  },

  /**
   * Second factor. `verified` is absent when the first factor failed (no PSU to check the code
   * against): the PSU is sent back to the login with the same single message either way.
   */
  otp(
    session: PsuSession,
    verified: PsuAuthenticationResult | undefined,
    settings: JourneySettings,
    now: number,
  ): Transition {
    if (verified?.ok) {
      return {
        write: {
          kind: 'advance',
          from: 'sca',
          changes: { ...refreshed(settings, now), stage: 'consent', authenticatedAt: now },
        },
        // On the payment page a good code is followed at once by the approval (steps.approvePayment).
        events: [{ event: 'sca.succeeded' }],
        outcome: { type: 'goto', step: 'consent' },
      };
    }
    const back: Transition['write'] = {
      kind: 'advance',
      from: session.stage,
      changes: { ...refreshed(settings, now), stage: 'login', psuId: null },
    };
    if (!verified) {
      return {
        write: back,
        events: [{ event: 'sca.failed', detail: { factor: 'knowledge' } }],
        outcome: { type: 'goto', step: 'login', retry: { failed: true } },
      };
    }
    return {
      write: back,
      events: [
        {
          event: verified.lockedNow ? 'psu.locked' : 'sca.failed',
          detail: verified.lockedUntil ? { lockedUntil: verified.lockedUntil } : { factor: 'possession' },
        },
      ],
      outcome: {
        type: 'goto',
        step: 'login',
        retry: verified.lockedUntil !== undefined ? { lockedUntil: verified.lockedUntil } : { failed: true },
      },
    };
  },

  /** The PSU refused on the consent page. */
  refuse(session: PsuSession): Transition {
    return {
      write: { kind: 'advance', from: session.stage, changes: { stage: 'done' } },
      events: [{ event: 'consent.refused' }],
      outcome: {
        type: 'respond',
        request: session.request,
        response: { error: 'access_denied', error_description: 'the PSU refused' },
      },
    };
  },

  /** "Cancel and return to the TPP", from any step before the end. */
  cancel(session: PsuSession): Transition {
    if (!STEPS_WITH_A_WAY_OUT.includes(session.stage)) return fail(DONE);
    return {
      write: { kind: 'advance', from: session.stage, changes: { stage: 'done' } },
      events: [{ event: 'session.cancelled', detail: { at: session.stage } }],
      outcome: {
        type: 'respond',
        request: session.request,
        response: { error: 'access_denied', error_description: 'the PSU cancelled' },
      },
    };
  },

  /**
   * The PSU approved. `psu` is who approves: the authenticated PSU in production, the chosen
   * persona in the sandbox. Without a held account chosen, the page comes back. The session's end,
   * the consent and the code are one write.
   */
  async approve(
    session: PsuSession,
    input: { psuId: string; accounts: PsuAccount[]; chosen: string[]; scaAt?: number },
    settings: JourneySettings,
    now: number,
  ): Promise<Transition> {
    const page: JourneyPage = settings.mode === 'sandbox' ? 'sandbox' : 'consent';
    const held = new Set(input.accounts.filter((a) => a.psuId === input.psuId).map((a) => a.accountId));
    if (!input.chosen.some((id) => held.has(id))) {
      return {
        events: [],
        outcome: { type: 'page', page, session, problem: { psuId: input.psuId, chosen: input.chosen } },
      };
    }
    const granted = await prepareConsent(settings, {
      request: session.request,
      psuId: input.psuId,
      accountIds: input.chosen.filter((id) => held.has(id)),
      scaAt: input.scaAt,
      now,
    });
    return {
      write: { kind: 'grant', from: 'consent', psuId: input.psuId, granted },
      events: [
        {
          event: 'consent.granted',
          psuId: input.psuId,
          detail: {
            consentId: granted.consent.consentId,
            scope: session.request.scope,
            accountIds: granted.consent.accountIds,
          },
        },
      ],
      outcome: { type: 'respond', request: session.request, response: { code: granted.codeSecret } },
    };
  },
};

/**
 * The payment as the page showed it, still awaiting the PSU and this client's: undefined to go on,
 * otherwise the end of the session with no code (withdrawn, expired or changed).
 */
export function unavailablePayment(
  session: PsuSession,
  record: PaymentAuthorizationRecord | undefined,
  shownHash: string | undefined,
  now: number,
): Transition | undefined {
  if (
    record &&
    effectiveStatus(record, now) === 'awaiting_authorisation' &&
    record.paymentHash === shownHash &&
    record.clientId === session.request.clientId
  ) {
    return undefined;
  }
  return {
    write: { kind: 'advance', from: session.stage, changes: { stage: 'done' } },
    events: [{ event: 'payment.unavailable', detail: { status: record ? effectiveStatus(record, now) : 'unknown' } }],
    outcome: paymentChanged(session),
  };
}

/**
 * Production, the code on the payment page was right. The bank fixed a debtor account the PSU
 * holds: the approval follows at once (the caller runs approvePaymentStep; undefined here).
 * Otherwise the PSU now chooses the account, or reads that none fits, on a page of its own: the PSU's accounts are never shown before both factors are
 * verified, so the payment page is the same after a wrong password as after a right one and does
 * not tell which element failed (RTS art. 4(3)(a)); nor does it show an account list to someone
 * who knows only the password.
 */
export function paymentAuthenticated(
  session: PsuSession,
  record: PaymentAuthorizationRecord,
  /** The PSU's accounts in the payment's currency. */
  accounts: PsuAccount[],
  settings: JourneySettings,
  now: number,
): Transition | undefined {
  const fixed = record.payment.debtorAccount?.iban;
  if (fixed && accounts.some((a) => a.psuId === session.psuId && a.iban === fixed)) return undefined;
  return {
    write: {
      kind: 'advance',
      from: 'payment',
      changes: { ...refreshed(settings, now), stage: 'debtor_account', authenticatedAt: now },
    },
    events: [{ event: 'sca.succeeded', detail: { paymentHash: record.paymentHash } }],
    outcome: { type: 'goto', step: 'debtor_account' },
  };
}

/** The payment step's pure part: bind the approval to what the PSU saw, or say why not. */
export function approvePaymentStep(
  session: PsuSession,
  input: {
    psuId: string;
    /** The PSU's accounts in the payment's currency. */
    accounts: PsuAccount[];
    chosen: string | undefined;
    /** The hash the page showed (hidden field). */
    shownHash: string | undefined;
    record: PaymentAuthorizationRecord | undefined;
    scaAt?: number;
  },
  settings: JourneySettings,
  now: number,
): Promise<Transition> | Transition {
  const { record } = input;
  const unavailable = unavailablePayment(session, record, input.shownHash, now);
  if (unavailable || !record) return unavailable ?? fail(DONE);
  const fixed = record.payment.debtorAccount?.iban;
  const account = input.accounts.find(
    (a) => a.psuId === input.psuId && (fixed ? a.iban === fixed : a.accountId === input.chosen),
  );
  if (!account) {
    return {
      events: [],
      outcome: {
        type: 'page',
        page: session.stage === 'debtor_account' ? 'debtor_account' : 'payment',
        session,
        problem: { psuId: input.psuId, chosen: [input.chosen ?? ''] },
      },
    };
  }
  return prepareConsent(settings, {
    request: session.request,
    psuId: input.psuId,
    accountIds: [account.accountId],
    scaAt: input.scaAt,
    now,
    lifetimeMs: PAYMENT_CONSENT_MS,
  }).then(
    (granted): Transition => ({
      write: {
        kind: 'grant',
        from: session.stage,
        psuId: input.psuId,
        granted: {
          ...granted,
          consent: { ...granted.consent, authorizationId: record.authorizationId },
          payment: {
            authorizationId: record.authorizationId,
            paymentHash: record.paymentHash,
            psuId: input.psuId,
            debtorAccount: { iban: account.iban },
            scaAt: input.scaAt ?? now,
          },
        },
      },
      events: [
        {
          event: 'consent.granted',
          psuId: input.psuId,
          detail: {
            consentId: granted.consent.consentId,
            scope: 'pisp',
            authorizationId: record.authorizationId,
            paymentHash: record.paymentHash,
            accountIds: [account.accountId],
          },
        },
      ],
      outcome: { type: 'respond', request: session.request, response: { code: granted.codeSecret } },
      lost: { type: 'error', ...DONE },
    }),
  );
}

/** What the PSU reads and confirms, given to a transaction-confirmation factor with the hash. */
export function paymentDisplay(record: PaymentAuthorizationRecord): string {
  const { instructedAmount, creditorName, creditorAccount } = record.payment;
  return `${record.action} ${instructedAmount.amount} ${instructedAmount.currency} to ${creditorName} (${creditorAccount.iban})`;
}

function refreshed(settings: JourneySettings, now: number): SessionChanges {
  return { lastSeenAt: now, expiresAt: now + settings.sessionInactivitySeconds * 1000 };
}

export interface PsuJourneyDeps {
  settings: JourneySettings;
  clock: Clock;
  sessions: PsuSessionStore;
  consents: ConsentStore;
  events: AuthenticationEventLog;
  /**
   * Told of each event once it is committed, whether it went with a session write or through
   * `events` (which tells it itself): the log line and the metric of the authentication log.
   */
  observe?: (event: AuthenticationEvent) => void;
  authenticator: PsuAuthenticator;
  accounts: AccountDirectory;
  psus: Pick<PsuStore, 'find' | 'list'>;
  payments: Pick<PaymentAuthorizationStore, 'find' | 'reject'>;
}

/** Form input of the payment page. */
export interface PaymentDecision {
  csrf: string | undefined;
  approve: boolean;
  /** Production: the one-time code (or the bank's transaction-confirmation response). */
  otp: string;
  /** The debtor account, unless the bank fixed it. */
  account?: string;
  paymentHash?: string;
}

/** Form input of the decision step. */
export interface Decision {
  csrf: string | undefined;
  approve: boolean;
  /** Sandbox: the chosen persona. */
  persona?: string;
  accounts: string[];
}

export type PsuJourney = ReturnType<typeof createPsuJourney>;

/**
 * The journey's use cases, one per step: find the session of the cookie's secret, check it, run
 * the step at the clock's time, apply its transition. Each returns the outcome for the browser.
 */
export function createPsuJourney(deps: PsuJourneyDeps) {
  const { settings } = deps;

  async function apply(digest: string, session: PsuSession, transition: Transition): Promise<JourneyOutcome> {
    const { write } = transition;
    const occurredAt = deps.clock();
    const events: AuthenticationEvent[] = transition.events.map((e) => ({
      sessionId: session.sessionId,
      event: e.event,
      occurredAt,
      clientId: session.request.clientId,
      psuId: e.psuId ?? (write?.kind === 'grant' ? write.psuId : undefined) ?? session.psuId ?? undefined,
      detail: e.detail,
    }));
    // The events go with the session write, in its transaction, only if it wins.
    let won = true;
    if (write?.kind === 'advance') {
      won = await deps.sessions.advance(digest, write.from, write.changes, events);
    } else if (write?.kind === 'grant') {
      const result = await deps.consents.grant(write.granted, { sessionDigest: digest, fromStage: write.from }, events);
      if (result === 'payment') {
        // Withdrawn, expired or changed between the read and the write: the session ends, no code.
        return apply(digest, session, {
          write: { kind: 'advance', from: write.from, changes: { stage: 'done' } },
          events: [{ event: 'payment.unavailable', detail: { at: 'approval' } }],
          outcome: paymentChanged(session),
        });
      }
      won = result === 'granted';
    }
    if (!won) return transition.lost ?? { type: 'error', ...DONE };
    if (write) for (const event of events) deps.observe?.(event);
    // A transition with no session write (none today has events without one) logs on its own.
    else for (const event of events) await deps.events.record(event);
    return transition.outcome;
  }

  /** The session of a cookie secret, at one of `stages`, with the form's CSRF token if `csrf` is given. */
  async function load(
    secret: string | undefined,
    stages: PsuSessionStage[],
    now: number,
    csrf?: { token: string | undefined },
  ): Promise<{ digest: string; session: PsuSession } | JourneyOutcome> {
    if (!secret) return { type: 'error', ...NO_SESSION };
    const digest = await secretDigest(secret);
    const session = await deps.sessions.find(digest);
    if (!session) return { type: 'error', ...NO_SESSION };
    const stop = steps.guard(session, stages, settings, now);
    if (stop) return apply(digest, session, stop);
    if (csrf && !sameToken(csrf.token, session.csrfToken)) return { type: 'error', reason: 'csrf', status: 403 };
    return { digest, session };
  }

  const isOutcome = (value: object): value is JourneyOutcome => 'type' in value;
  const paymentId = (session: PsuSession) => session.request.paymentAuthorizationId ?? '';
  const currencyOf = (record: PaymentAuthorizationRecord | undefined) => record?.payment.instructedAmount.currency;

  /** Refuse on a payment step: access_denied to the PISP, and the payment `rejected`. */
  async function refusePayment(digest: string, session: PsuSession, now: number): Promise<JourneyOutcome> {
    const outcome = await apply(digest, session, steps.refuse(session));
    if (outcome.type === 'respond') await deps.payments.reject(paymentId(session), now);
    return outcome;
  }

  return {
    settings,
    /** The PSU's accounts, as the consent page lists them. */
    accounts: deps.accounts,

    /** The checked request starts a session; returns the cookie secret and the first page. */
    async start(request: AuthorizationRequest): Promise<{ secret: string; outcome: JourneyOutcome }> {
      const now = deps.clock();
      const session = steps.start(request, settings, now);
      const secret = randomSecret(32);
      const started: AuthenticationEvent = {
        sessionId: session.sessionId,
        event: 'session.started',
        occurredAt: now,
        clientId: request.clientId,
        detail: { scope: request.scope, mode: settings.mode },
      };
      await deps.sessions.create(await secretDigest(secret), session, [started]);
      deps.observe?.(started);
      return {
        secret,
        outcome: {
          type: 'page',
          page: settings.mode === 'production' ? 'login' : isPayment(session) ? 'payment' : 'sandbox',
          session,
        },
      };
    },

    /** GET of a step's page. */
    async view(
      secret: string | undefined,
      page: 'login' | 'otp' | 'consent' | 'payment' | 'debtor_account',
    ): Promise<JourneyOutcome> {
      const now = deps.clock();
      const stage: PsuSessionStage = page === 'otp' ? 'sca' : page;
      const loaded = await load(secret, [stage], now);
      if (isOutcome(loaded)) return loaded;
      // The sandbox's consent step is its persona page (the language switch comes back to it by GET).
      const shown: JourneyPage = page === 'consent' && settings.mode === 'sandbox' ? 'sandbox' : page;
      return apply(loaded.digest, loaded.session, steps.view(loaded.session, shown, settings, now));
    },

    async login(secret: string | undefined, input: { csrf: string | undefined; username: string; password: string }) {
      const now = deps.clock();
      const loaded = await load(secret, ['login'], now, { token: input.csrf });
      if (isOutcome(loaded)) return loaded;
      const verified = await deps.authenticator.verifyPassword(input.username, input.password, now);
      return apply(loaded.digest, loaded.session, steps.login(loaded.session, verified, settings, now));
    },

    async otp(secret: string | undefined, input: { csrf: string | undefined; otp: string }) {
      const now = deps.clock();
      const loaded = await load(secret, ['sca'], now, { token: input.csrf });
      if (isOutcome(loaded)) return loaded;
      const { psuId } = loaded.session;
      const verified = psuId ? await deps.authenticator.verifyOneTimeCode(psuId, input.otp, now) : undefined;
      return apply(loaded.digest, loaded.session, steps.otp(loaded.session, verified, settings, now));
    },

    async decide(secret: string | undefined, input: Decision): Promise<JourneyOutcome> {
      const now = deps.clock();
      const loaded = await load(secret, ['consent'], now, { token: input.csrf });
      if (isOutcome(loaded)) return loaded;
      const { digest, session } = loaded;
      if (!input.approve) return apply(digest, session, steps.refuse(session));
      let psu: Pick<PsuRecord, 'psuId'>;
      let scaAt: number | undefined;
      if (settings.mode === 'sandbox') {
        const persona = input.persona ? await deps.psus.find(input.persona) : undefined;
        if (!persona?.sandbox || persona.status !== 'active')
          return { type: 'error', reason: 'invalid_request', status: 400 };
        psu = persona;
      } else {
        if (!session.psuId || session.authenticatedAt === null) return { type: 'error', ...NO_SESSION };
        psu = { psuId: session.psuId };
        scaAt = session.authenticatedAt;
      }
      const accounts = await deps.accounts.accountsOf(psu.psuId);
      const transition = await steps.approve(
        session,
        { psuId: psu.psuId, accounts, chosen: input.accounts, scaAt },
        settings,
        now,
      );
      return apply(digest, session, transition);
    },

    /**
     * POST of the payment page: Confirm (with the second factor in production) or Refuse. In
     * production a right code leads to the approval when the bank fixed the debtor account, to the
     * debtor-account page otherwise.
     */
    async payment(secret: string | undefined, input: PaymentDecision): Promise<JourneyOutcome> {
      const now = deps.clock();
      const loaded = await load(secret, ['payment'], now, { token: input.csrf });
      if (isOutcome(loaded)) return loaded;
      const { digest, session } = loaded;
      if (!input.approve) return refusePayment(digest, session, now);
      const record = await deps.payments.find(paymentId(session));
      const shown = { chosen: input.account, shownHash: input.paymentHash, record };
      if (settings.mode === 'sandbox') {
        // The sandbox page lists each persona's accounts: the chosen account names the persona.
        const personas = (await deps.psus.list({ sandbox: true })).filter((p) => p.status === 'active');
        const all = (await Promise.all(personas.map((p) => deps.accounts.accountsOf(p.psuId)))).flat();
        const fixed = record?.payment.debtorAccount?.iban;
        const owner = all.find((a) => (fixed ? a.iban === fixed : a.accountId === input.account));
        if (!owner) return { type: 'error', reason: 'invalid_request', status: 400 };
        const accounts = all.filter((a) => a.psuId === owner.psuId && a.currency === currencyOf(record));
        const transition = await approvePaymentStep(session, { ...shown, psuId: owner.psuId, accounts }, settings, now);
        return apply(digest, session, transition);
      }
      const { psuId } = session;
      const verified = psuId
        ? record && deps.authenticator.confirmTransaction
          ? await deps.authenticator.confirmTransaction(
              psuId,
              { hash: record.paymentHash, display: paymentDisplay(record) },
              input.otp,
              now,
            )
          : await deps.authenticator.verifyOneTimeCode(psuId, input.otp, now)
        : undefined;
      if (!verified?.ok || !psuId) return apply(digest, session, steps.otp(session, verified, settings, now));
      const unavailable = unavailablePayment(session, record, input.paymentHash, now);
      if (unavailable || !record) return apply(digest, session, unavailable ?? fail(DONE));
      const accounts = (await deps.accounts.accountsOf(psuId)).filter((a) => a.currency === currencyOf(record));
      const toAccountChoice = paymentAuthenticated(session, record, accounts, settings, now);
      if (toAccountChoice) return apply(digest, session, toAccountChoice);
      await deps.events.record({
        sessionId: session.sessionId,
        event: 'sca.succeeded',
        occurredAt: now,
        clientId: session.request.clientId,
        psuId,
        detail: { paymentHash: record.paymentHash },
      });
      const transition = await approvePaymentStep(session, { ...shown, psuId, accounts, scaAt: now }, settings, now);
      return apply(digest, session, transition);
    },

    /** Production, after the code: POST of the debtor-account page, Confirm or Refuse. */
    async debtorAccount(secret: string | undefined, input: Omit<PaymentDecision, 'otp'>): Promise<JourneyOutcome> {
      const now = deps.clock();
      const loaded = await load(secret, ['debtor_account'], now, { token: input.csrf });
      if (isOutcome(loaded)) return loaded;
      const { digest, session } = loaded;
      if (!input.approve) return refusePayment(digest, session, now);
      const { psuId, authenticatedAt } = session;
      if (!psuId || authenticatedAt === null) return { type: 'error', ...NO_SESSION };
      const record = await deps.payments.find(paymentId(session));
      const accounts = (await deps.accounts.accountsOf(psuId)).filter((a) => a.currency === currencyOf(record));
      const transition = await approvePaymentStep(
        session,
        { psuId, accounts, chosen: input.account, shownHash: input.paymentHash, record, scaAt: authenticatedAt },
        settings,
        now,
      );
      return apply(digest, session, transition);
    },
    async cancel(secret: string | undefined, input: { csrf: string | undefined }): Promise<JourneyOutcome> {
      const now = deps.clock();
      const loaded = await load(secret, STEPS_WITH_A_WAY_OUT, now, { token: input.csrf });
      if (isOutcome(loaded)) return loaded;
      return apply(loaded.digest, loaded.session, steps.cancel(loaded.session));
    },

    /** The consent's duration in days, as the pages state it. */
    consentDays(scope: string): number {
      return scope === 'cbpii' ? settings.cbpiiConsentDays : AISP_CONSENT_DAYS;
    },
  };
}
