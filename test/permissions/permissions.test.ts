// The permission dashboard end to end over HTTPS, on the real server: two TPPs each get a consent
// from the same PSU (the sandbox page), the bank's back office reads and withdraws through the JSON
// API, the PSU does the same on the pages (persona in the sandbox; login and TOTP in production),
// and the TPPs see it at the token and introspection endpoints. The browser test
// (test/browser/permissions.test.ts) drives the same pages in Chromium.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import { sandboxAccountId, sandboxPsuId } from '../../server/protocol/sandbox-personas.ts';
import { secretDigest } from '../../server/protocol/secrets.ts';
import { type HttpResponse, request } from '../support/https.ts';
import {
  addResourceServer,
  cli,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
  REDIRECT_URI,
} from '../support/oauth-tpp.ts';
import { BACK_OFFICE, backOffice, backOfficeEnv, basic, consent, refresh } from '../support/permissions.ts';
import { startProductionServer } from '../support/production.ts';
import { sessionCookie, tags } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ALICE = sandboxPsuId('alice');

describe('permission dashboard: the back-office JSON API', () => {
  let s: TestServer;
  let budget: OAuthTpp;
  let funds: OAuthTpp;
  let introspect: Awaited<ReturnType<typeof introspector>>;
  let rsCredentials: { client_id: string; client_secret: string };
  before(async () => {
    s = await startTestServer(await backOfficeEnv());
    budget = await oauthTpp(s, ['PSP_AI'], { redirect_uris: [REDIRECT_URI], client_name: 'Budget Malin' });
    funds = await oauthTpp(s, ['PSP_IC'], { redirect_uris: [REDIRECT_URI], client_name: 'Fonds Check' });
    rsCredentials = await addResourceServer(s, 'accounts-api');
    introspect = await introspector(s, rsCredentials);
  });
  after(() => s?.close());

  test('two consents, one withdrawn by the back office: refresh invalid_grant, introspection inactive, the other untouched', async () => {
    const a = await consent(s, budget, 'aisp extended_transaction_history', [
      sandboxAccountId('alice', 'current'),
      sandboxAccountId('alice', 'savings'),
    ]);
    const b = await consent(s, funds, 'cbpii', [sandboxAccountId('alice', 'current')]);
    const brunos = await consent(s, budget, 'aisp', [sandboxAccountId('bruno', 'current')]);
    const consentOf = async (token: string) => (await introspect(token)).consent_id as string;
    const [consentA, consentB, consentBruno] = [
      await consentOf(a.access_token),
      await consentOf(b.access_token),
      await consentOf(brunos.access_token),
    ];

    const listed = await s.get(`/psus/${ALICE}/permissions`, { headers: backOffice });
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.header('cache-control'), 'no-store');
    const body = listed.json();
    assert.equal(body.psu_id, ALICE);
    assert.deepEqual(
      body.permissions.map((p: { consent_id: string }) => p.consent_id),
      [consentB, consentA],
      'newest first',
    );
    const [pb, pa] = body.permissions;
    assert.equal(pa.service, 'account_information_extended_history');
    assert.equal(pb.service, 'funds_confirmation');
    assert.equal(pa.tpp.client_name, 'Budget Malin');
    assert.match(pa.tpp.organization_identifier, /^PSD[A-Z]{2}-/);
    assert.match(pa.tpp.legal_name, /^Test TPP \d+$/, 'the QWAC O=, verified at registration');
    assert.deepEqual(
      pa.accounts.map((x: { iban: string }) => x.iban),
      ['FR7630006000011234567890189', 'FR4030006000019876543210142'],
    );
    assert.equal(pa.status, 'active');
    const day = 86_400_000;
    assert.equal(Date.parse(pa.sca_renewal_at) - Date.parse(pa.granted_at), 180 * day, 'RTS art. 10a');
    assert.deepEqual(body.history, { permissions: [], payments: [] });

    // Not the back office: no credentials, a resource server's, a wrong secret.
    for (const headers of [
      {},
      basic(rsCredentials.client_id, rsCredentials.client_secret),
      basic(BACK_OFFICE.id, 'x'),
    ]) {
      const refused = await s.get(`/psus/${ALICE}/permissions`, { headers });
      assert.equal(refused.status, 401);
      assert.equal(refused.json().error, 'invalid_client');
      assert.match(refused.header('www-authenticate') ?? '', /^Basic/);
    }
    // Another PSU's consent, an unknown PSU.
    const others = await s.post(`/psus/${ALICE}/permissions/${consentBruno}/withdraw`, { headers: backOffice });
    assert.equal(others.status, 404);
    assert.equal(others.json().error, 'not_found');
    assert.equal((await s.get('/psus/nobody/permissions', { headers: backOffice })).status, 404);
    assert.equal((await s.post(`/psus/nobody/permissions/${consentA}/withdraw`, { headers: backOffice })).status, 404);
    assert.equal((await introspect(brunos.access_token)).active, true, 'nothing changed');

    const withdrawn = await s.post(`/psus/${ALICE}/permissions/${consentA}/withdraw`, { headers: backOffice });
    assert.equal(withdrawn.status, 204, withdrawn.text);
    assert.deepEqual(await introspect(a.access_token), { active: false });
    assert.deepEqual(await oauthError(refresh(budget, a.refresh_token!)), { error: 'invalid_grant', status: 400 });
    assert.equal((await introspect(b.access_token)).active, true, 'the other consent is untouched');
    assert.ok((await refresh(funds, b.refresh_token!)).access_token);

    const again = await s.post(`/psus/${ALICE}/permissions/${consentA}/withdraw`, { headers: backOffice });
    assert.equal(again.status, 409);
    assert.equal(again.json().error, 'conflict');

    const after = (await s.get(`/psus/${ALICE}/permissions`, { headers: backOffice })).json();
    assert.deepEqual(
      after.permissions.map((p: { consent_id: string }) => p.consent_id),
      [consentB],
    );
    assert.equal(after.history.permissions.length, 1);
    assert.equal(after.history.permissions[0].consent_id, consentA);
    assert.equal(after.history.permissions[0].status, 'withdrawn');
    assert.equal(after.history.permissions[0].withdrawn_by, 'psu');

    // The CLI prints the same document.
    const printed = await cli(s, ['psu', 'permissions', ALICE, '--json']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.deepEqual(JSON.parse(printed.stdout), after);
    const unknown = await cli(s, ['psu', 'permissions', 'nobody']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no PSU nobody/);
  });

  test('the API is not served on a PSU listener, and without BACK_OFFICE settings it refuses every call', async () => {
    const two = await startTestServer({ PSU_PORT: '0' });
    try {
      const onPsu = await request(`${two.psuUrl}/psus/${ALICE}/permissions`, { ca: two.caPem, headers: backOffice });
      assert.equal(onPsu.status, 404);
      const unconfigured = await two.get(`/psus/${ALICE}/permissions`, { headers: backOffice });
      assert.equal(unconfigured.status, 401);
    } finally {
      await two.close();
    }
  });

  test('`back-office credentials` prints a secret and the settings that accept it', async () => {
    const out = await cli(s, ['back-office', 'credentials', '--client-id', 'ob', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const printed = JSON.parse(out.stdout);
    assert.equal(printed.settings.BACK_OFFICE_CLIENT_ID, 'ob');
    assert.equal(printed.settings.BACK_OFFICE_SECRET_SHA256, await secretDigest(printed.client_secret));
  });
});

/** Follows the dashboard's pages as a browser without JavaScript: cookie, forms, CSRF. */
function psuAgent(base: string, ca: string) {
  let cookie = '';
  const go = async (path: string, form?: Record<string, string>): Promise<HttpResponse> => {
    const res = await request(new URL(path, base).toString(), {
      ca,
      method: form ? 'POST' : 'GET',
      headers: cookie ? { cookie } : {},
      ...(form ? { body: new URLSearchParams(form) } : {}),
    });
    if (res.headers['set-cookie']) cookie = sessionCookie(res);
    return res;
  };
  return {
    go,
    /** GET, following the 303s of the forms. */
    async submit(path: string, form: Record<string, string>) {
      const res = await go(path, form);
      assert.equal(res.status, 303, res.text.slice(0, 300));
      return go(res.header('location')!);
    },
    csrf: (page: string) => tags(page, 'input').find((i) => i.name === 'csrf_token')?.value ?? '',
  };
}

describe('permission dashboard: the PSU pages', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s?.close());

  test('sandbox: persona, overview, confirmation, withdrawal; CSRF 403; another PSU 404; the audit event', async () => {
    const budget = await oauthTpp(s, ['PSP_AI'], { redirect_uris: [REDIRECT_URI], client_name: 'Budget <b>Malin</b>' });
    const mine = await consent(s, budget, 'aisp', [sandboxAccountId('alice', 'current')]);
    const brunos = await consent(s, budget, 'aisp', [sandboxAccountId('bruno', 'current')]);
    const introspect = await introspector(s, await addResourceServer(s, 'api'));
    const myConsent = (await introspect(mine.access_token)).consent_id as string;
    const brunosConsent = (await introspect(brunos.access_token)).consent_id as string;

    const psu = psuAgent(s.psuUrl, s.caPem);
    const signIn = await psu.go('/en/permissions');
    assert.equal(signIn.status, 200);
    assert.match(
      signIn.header('set-cookie') ?? '',
      /^__Host-psu_permissions=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    assert.equal(signIn.header('cache-control'), 'no-store');
    assert.match(signIn.header('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const csrf = psu.csrf(signIn.text);
    assert.equal((await psu.go('/en/permissions/persona', { persona: ALICE })).status, 403, 'no CSRF token');
    const overview = await psu.submit('/en/permissions/persona', { csrf_token: csrf, persona: ALICE });
    assert.equal(overview.status, 200);
    assert.match(overview.text, /Budget &lt;b&gt;Malin&lt;\/b&gt;/, 'the TPP’s name escaped');
    assert.match(overview.text, /FR76 3000 6000 0112 3456 7890 189/, 'IBAN in groups of four');
    assert.match(overview.text, new RegExp(`data-consent="${myConsent}"`));
    assert.doesNotMatch(overview.text, new RegExp(brunosConsent), 'only this PSU’s');

    // Another PSU's consent: 404 on the confirmation and on the withdrawal, nothing changes.
    assert.equal((await psu.go(`/en/permissions/${brunosConsent}/withdraw`)).status, 404);
    assert.equal((await psu.go(`/en/permissions/${brunosConsent}/withdraw`, { csrf_token: csrf })).status, 404);
    assert.equal((await introspect(brunos.access_token)).active, true);

    const confirm = await psu.go(`/en/permissions/${myConsent}/withdraw`);
    assert.equal(confirm.status, 200);
    const buttons = tags(confirm.text, 'button');
    assert.deepEqual(
      buttons.map((b) => b.class),
      ['primary', 'primary'],
      'Withdraw and Back are of equal weight',
    );
    // Missing or wrong CSRF token: 403, still granted.
    assert.equal((await psu.go(`/en/permissions/${myConsent}/withdraw`, {})).status, 403);
    assert.equal((await psu.go(`/en/permissions/${myConsent}/withdraw`, { csrf_token: 'x' })).status, 403);
    assert.equal((await introspect(mine.access_token)).active, true);

    const done = await psu.submit(`/en/permissions/${myConsent}/withdraw`, { csrf_token: csrf });
    assert.match(done.text, /The access was withdrawn/);
    assert.match(done.text, /Withdrawn by you on/);
    assert.deepEqual(await introspect(mine.access_token), { active: false });
    assert.deepEqual(await oauthError(refresh(budget, mine.refresh_token!)), { error: 'invalid_grant', status: 400 });
    assert.equal((await introspect(brunos.access_token)).active, true);
    assert.equal((await psu.go(`/en/permissions/${myConsent}/withdraw`, { csrf_token: csrf })).status, 409);

    const listed = await cli(s, ['consent', 'list', '--psu', ALICE, '--json']);
    assert.equal(JSON.parse(listed.stdout)[0].revoked_by, 'psu');
    // The authentication log names the dashboard session that withdrew it (RTS art. 29), as the
    // bank reads it: `psu events PSU_ID`.
    const read = await cli(s, ['psu', 'events', ALICE, '--json']);
    assert.equal(read.code, 0, read.stderr);
    const log = JSON.parse(read.stdout) as { session_id: string; event: string; client_id: string; detail: unknown }[];
    const withdrawals = log.filter((e) => e.event === 'consent.withdrawn');
    assert.equal(withdrawals.length, 1, 'one consent.withdrawn event');
    const [withdrawal] = withdrawals;
    assert.equal(withdrawal!.client_id, budget.clientId);
    assert.deepEqual(withdrawal!.detail, { consentId: myConsent, channel: 'dashboard' });
    const session = log.filter((e) => e.session_id === withdrawal!.session_id).map((e) => e.event);
    assert.deepEqual(session, ['session.started', 'login.succeeded', 'consent.withdrawn']);
  });
});

describe('permission dashboard: production sign-in (password and TOTP)', () => {
  let s: TestServer;
  let totp = '';
  before(async () => {
    const started = await startProductionServer();
    s = started.server;
    let out = '';
    await psuCommandWith(['add', '--username', 'jeanne', '--name', 'Jeanne', '--password-stdin'], started.config, {
      out: (t: string) => {
        out += t;
      },
      readStdin: async () => 'correct horse battery',
    });
    totp = /^totp_secret: (\w+)$/m.exec(out)![1]!;
    await accountCommandWith(
      ['add', '--username', 'jeanne', '--iban', 'FR7630006000011234567890189', '--name', 'Compte', '--type', 'current'],
      started.config,
      { out: () => {} },
    );
  });
  after(() => s?.close());

  test('a wrong password still asks for the code, then one message; the right ones open the dashboard', async () => {
    const psu = psuAgent(s.psuUrl, s.caPem);
    const signIn = await psu.go('/fr/permissions');
    assert.match(signIn.text, /Identifiant client/);
    const csrf = psu.csrf(signIn.text);
    const otpPage = await psu.submit('/fr/permissions/login', { csrf_token: csrf, username: 'jeanne', password: 'no' });
    assert.match(otpPage.text, /Code à usage unique/, 'the code is asked even after a wrong password');
    const failed = await psu.submit('/fr/permissions/otp', { csrf_token: csrf, otp: '000000' });
    assert.match(failed.text, /L’authentification a échoué/);

    await psu.submit('/fr/permissions/login', {
      csrf_token: csrf,
      username: 'jeanne',
      password: 'correct horse battery',
    });
    const dashboard = await psu.submit('/fr/permissions/otp', { csrf_token: csrf, otp: currentTotp(totp) });
    assert.match(dashboard.text, /Accès accordés à d’autres services/);
    assert.match(dashboard.text, /Vous n’avez accordé aucun accès/);
    const signedOut = await psu.submit('/fr/permissions/sign-out', { csrf_token: csrf });
    assert.match(signedOut.text, /Vous êtes déconnecté/);
    assert.equal((await request(`${s.url}/fr/permissions`, { ca: s.caPem })).status, 404, 'not on the mTLS listener');
  });
});
