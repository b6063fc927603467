// The PSU's way into the permission dashboard: the same login and SCA as the consent pages (RTS
// art. 4: knowledge then possession, only the end result shown, the lockout, 5 minutes of
// inactivity), or the persona choice in the sandbox; then the overview and the withdrawal with its
// confirmation. Each use case finds the session of the cookie's secret, checks the stage and the
// CSRF token, and moves the session on with a conditional write (a replayed form changes nothing).
// The HTTP adapter (http/routes/permissions-pages.ts) only maps the outcomes to pages and redirects.
import type { PsuAuthenticationResult, PsuAuthenticator } from '../bank.ts';
import { OAuthError } from '../errors.ts';
import {
  type Permission,
  type PermissionDeps,
  type PermissionOverview,
  permissionsOf,
  withdrawPermission,
} from '../permissions.ts';
import type { AuthenticationEventLog, AuthenticationEventName, PsuStore } from '../psu/ports.ts';
import { sameToken } from '../psu-journey.ts';
import { randomSecret, secretDigest } from '../secrets.ts';
import type {
  PermissionSession,
  PermissionSessionChanges,
  PermissionSessionStage,
  PermissionSessionStore,
} from './ports.ts';

export interface DashboardSettings {
  mode: 'sandbox' | 'production';
  /** RTS art. 4(3)(d): 300 s. */
  sessionInactivitySeconds: number;
}

export interface DashboardDeps extends PermissionDeps {
  settings: DashboardSettings;
  clock: () => number;
  sessions: PermissionSessionStore;
  authenticator: PsuAuthenticator;
  psus: Pick<PsuStore, 'find' | 'list'>;
  events: AuthenticationEventLog;
}

export type DashboardFailure =
  | { reason: 'session'; status: 410 }
  | { reason: 'csrf'; status: 403 }
  | { reason: 'not_found'; status: 404 }
  | { reason: 'conflict'; status: 409 }
  | { reason: 'invalid_request'; status: 400 };

export type DashboardOutcome =
  /** Sign in first: the login form (production) or the persona choice (sandbox). */
  | { type: 'login'; session: PermissionSession }
  | { type: 'otp'; session: PermissionSession }
  | { type: 'overview'; session: PermissionSession; overview: PermissionOverview }
  /** The confirmation step of a withdrawal. */
  | { type: 'confirm'; session: PermissionSession; permission: Permission }
  | {
      type: 'goto';
      to: 'dashboard';
      notice?: { failed: true } | { lockedUntil: number } | { withdrawn: true } | { signedOut: true };
    }
  | ({ type: 'error' } & DashboardFailure);

export type PermissionDashboard = ReturnType<typeof createPermissionDashboard>;

const NO_SESSION: DashboardFailure = { reason: 'session', status: 410 };

export function createPermissionDashboard(deps: DashboardDeps) {
  const { settings } = deps;
  const inactivityMs = settings.sessionInactivitySeconds * 1000;
  const refreshed = (now: number): PermissionSessionChanges => ({ lastSeenAt: now, expiresAt: now + inactivityMs });

  async function record(session: PermissionSession, event: AuthenticationEventName, psuId?: string, detail = {}) {
    await deps.events.record({
      sessionId: session.sessionId,
      event,
      occurredAt: deps.clock(),
      ...(psuId ? { psuId } : {}),
      detail: { ...detail, channel: 'dashboard' },
    });
  }

  /** The session of a cookie secret if it is still active; an ended one is no session. */
  async function active(secret: string | undefined, now: number) {
    if (!secret) return undefined;
    const digest = await secretDigest(secret);
    const session = await deps.sessions.find(digest);
    if (!session || session.stage === 'done') return undefined;
    if (session.lastSeenAt + inactivityMs <= now || session.expiresAt <= now) {
      if (await deps.sessions.advance(digest, session.stage, { stage: 'done' })) {
        await record(session, 'session.expired', session.psuId ?? undefined);
      }
      return undefined;
    }
    return { digest, session };
  }

  /** A form's session: active, at `stage`, with the session's CSRF token. */
  async function forForm(
    secret: string | undefined,
    csrf: string | undefined,
    stages: PermissionSessionStage[],
    now: number,
  ): Promise<{ digest: string; session: PermissionSession } | DashboardOutcome> {
    const found = await active(secret, now);
    if (!found) return { type: 'error', ...NO_SESSION };
    if (!sameToken(csrf, found.session.csrfToken)) return { type: 'error', reason: 'csrf', status: 403 };
    if (!stages.includes(found.session.stage)) return { type: 'goto', to: 'dashboard' };
    return found;
  }
  const isOutcome = (value: object): value is DashboardOutcome => 'type' in value;

  /** The signed-in PSU's session, refreshed; or what to show instead. */
  async function signedIn(secret: string | undefined, now: number) {
    const found = await active(secret, now);
    if (found?.session.stage !== 'dashboard' || !found.session.psuId) return undefined;
    await deps.sessions.advance(found.digest, 'dashboard', refreshed(now));
    return { ...found, psuId: found.session.psuId };
  }

  async function failure(err: unknown): Promise<DashboardOutcome> {
    if (err instanceof OAuthError && err.code === 'not_found')
      return { type: 'error', reason: 'not_found', status: 404 };
    if (err instanceof OAuthError && err.code === 'conflict') return { type: 'error', reason: 'conflict', status: 409 };
    throw err;
  }

  return {
    settings,

    /**
     * GET of the dashboard. Without an active session a new one starts at the login (the route
     * sets the cookie from `secret`); otherwise the step the session is at, or the overview.
     */
    async view(secret: string | undefined, lang?: string): Promise<{ secret?: string; outcome: DashboardOutcome }> {
      const now = deps.clock();
      const found = await active(secret, now);
      if (!found) {
        const fresh = randomSecret(32);
        const session: PermissionSession = {
          sessionId: globalThis.crypto.randomUUID(),
          psuId: null,
          stage: 'login',
          csrfToken: randomSecret(32),
          authenticatedAt: null,
          lastSeenAt: now,
          expiresAt: now + inactivityMs,
          createdAt: now,
        };
        await deps.sessions.create(await secretDigest(fresh), session);
        await record(session, 'session.started', undefined, { mode: settings.mode });
        return { secret: fresh, outcome: { type: 'login', session } };
      }
      const { digest, session } = found;
      await deps.sessions.advance(digest, session.stage, refreshed(now));
      if (session.stage === 'login') return { outcome: { type: 'login', session } };
      if (session.stage === 'sca') return { outcome: { type: 'otp', session } };
      const overview = await permissionsOf(deps, session.psuId ?? '', now, lang).catch(() => undefined);
      // A PSU the bank removed meanwhile has nothing left to show.
      if (!overview) return { outcome: { type: 'error', ...NO_SESSION } };
      return { outcome: { type: 'overview', session, overview } };
    },

    /** First factor. Right or wrong, the code is asked next (RTS art. 4(3)(a)); a block is told at once. */
    async login(secret: string | undefined, input: { csrf: string | undefined; username: string; password: string }) {
      const now = deps.clock();
      const found = await forForm(secret, input.csrf, ['login'], now);
      if (isOutcome(found)) return found;
      if (settings.mode === 'sandbox') return { type: 'error', reason: 'invalid_request', status: 400 } as const;
      const verified = await deps.authenticator.verifyPassword(input.username, input.password, now);
      if (!verified.ok && verified.lockedUntil !== undefined) {
        await deps.sessions.advance(found.digest, 'login', refreshed(now));
        await record(found.session, verified.lockedNow ? 'psu.locked' : 'login.failed', verified.psuId, {
          lockedUntil: verified.lockedUntil,
        });
        return { type: 'goto', to: 'dashboard', notice: { lockedUntil: verified.lockedUntil } } as const;
      }
      const moved = await deps.sessions.advance(found.digest, 'login', {
        ...refreshed(now),
        stage: 'sca',
        psuId: verified.ok ? verified.psuId : null,
      });
      if (moved) {
        await record(
          found.session,
          verified.ok ? 'login.succeeded' : 'login.failed',
          verified.psuId,
          verified.ok ? {} : { factor: 'knowledge' },
        );
      }
      return { type: 'goto', to: 'dashboard' } as const;
    },

    /** Second factor: the dashboard, or back to the login with the one message. */
    async otp(secret: string | undefined, input: { csrf: string | undefined; otp: string }): Promise<DashboardOutcome> {
      const now = deps.clock();
      const found = await forForm(secret, input.csrf, ['sca'], now);
      if (isOutcome(found)) return found;
      const { digest, session } = found;
      const verified: PsuAuthenticationResult | undefined = session.psuId
        ? await deps.authenticator.verifyOneTimeCode(session.psuId, input.otp, now)
        : undefined;
      if (verified?.ok) {
        if (
          await deps.sessions.advance(digest, 'sca', { ...refreshed(now), stage: 'dashboard', authenticatedAt: now })
        ) {
          await record(session, 'sca.succeeded', session.psuId ?? undefined);
        }
        return { type: 'goto', to: 'dashboard' };
      }
      if (await deps.sessions.advance(digest, 'sca', { ...refreshed(now), stage: 'login', psuId: null })) {
        await record(
          session,
          verified?.lockedNow ? 'psu.locked' : 'sca.failed',
          undefined,
          verified?.lockedUntil !== undefined
            ? { lockedUntil: verified.lockedUntil }
            : { factor: verified ? 'possession' : 'knowledge' },
        );
      }
      return {
        type: 'goto',
        to: 'dashboard',
        notice: verified?.lockedUntil !== undefined ? { lockedUntil: verified.lockedUntil } : { failed: true },
      };
    },

    /** Sandbox: the chosen persona stands for the signed-in PSU (no real SCA). */
    async persona(secret: string | undefined, input: { csrf: string | undefined; persona: string }) {
      const now = deps.clock();
      const found = await forForm(secret, input.csrf, ['login'], now);
      if (isOutcome(found)) return found;
      const persona = settings.mode === 'sandbox' ? await deps.psus.find(input.persona) : undefined;
      if (!persona?.sandbox || persona.status !== 'active') {
        return { type: 'error', reason: 'invalid_request', status: 400 } as const;
      }
      if (
        await deps.sessions.advance(found.digest, 'login', {
          ...refreshed(now),
          stage: 'dashboard',
          psuId: persona.psuId,
          authenticatedAt: now,
        })
      ) {
        await record(found.session, 'login.succeeded', persona.psuId, { sandbox: true });
      }
      return { type: 'goto', to: 'dashboard' } as const;
    },

    /** GET of the confirmation step: the permission, if it is this PSU's and still active. */
    async confirm(secret: string | undefined, consentId: string, lang?: string): Promise<DashboardOutcome> {
      const now = deps.clock();
      const found = await signedIn(secret, now);
      if (!found) return { type: 'goto', to: 'dashboard' };
      try {
        const overview = await permissionsOf(deps, found.psuId, now, lang);
        const permission = overview.current.find((p) => p.consentId === consentId);
        if (!permission) {
          const ended = overview.ended.some((p) => p.consentId === consentId);
          return ended
            ? { type: 'error', reason: 'conflict', status: 409 }
            : { type: 'error', reason: 'not_found', status: 404 };
        }
        return { type: 'confirm', session: found.session, permission };
      } catch (err) {
        return failure(err);
      }
    },

    /** POST of the confirmation: the withdrawal, with this session in the audit trail. */
    async withdraw(secret: string | undefined, input: { csrf: string | undefined; consentId: string }) {
      const now = deps.clock();
      const found = await forForm(secret, input.csrf, ['dashboard'], now);
      if (isOutcome(found)) return found;
      try {
        await withdrawPermission(deps, {
          psuId: found.session.psuId ?? '',
          consentId: input.consentId,
          now,
          actor: { sessionId: found.session.sessionId, channel: 'dashboard' },
        });
      } catch (err) {
        return failure(err);
      }
      await deps.sessions.advance(found.digest, 'dashboard', refreshed(now));
      return { type: 'goto', to: 'dashboard', notice: { withdrawn: true } } as const;
    },

    /** Ends the session (from any step). */
    async signOut(secret: string | undefined, input: { csrf: string | undefined }): Promise<DashboardOutcome> {
      const now = deps.clock();
      const found = await forForm(secret, input.csrf, ['login', 'sca', 'dashboard'], now);
      if (isOutcome(found)) return found;
      if (await deps.sessions.advance(found.digest, found.session.stage, { stage: 'done' })) {
        await record(found.session, 'session.cancelled', found.session.psuId ?? undefined, { at: found.session.stage });
      }
      return { type: 'goto', to: 'dashboard', notice: { signedOut: true } };
    },
  };
}
