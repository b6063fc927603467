// The bank acting on a TPP with `psd2-oauth client`, run as a separate process against the running
// server's database: a suspension stops new tokens and live ones at the very next request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { main } from '../../server/cli.ts';
import {
  addResourceServer,
  cli,
  codeTokens,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
  REDIRECT_URI,
} from '../support/oauth-tpp.ts';
import { databaseEnv, startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const ORG = `PSDFR-ACPR-S${process.pid}`;

async function clientCredentials(tpp: OAuthTpp) {
  const response = await oauth.clientCredentialsGrantRequest(
    tpp.as,
    tpp.client,
    tpp.auth,
    { scope: 'pisp' },
    tpp.options,
  );
  return oauth.processClientCredentialsResponse(tpp.as, tpp.client, response);
}

async function refresh(tpp: OAuthTpp, refreshToken: string) {
  const response = await oauth.refreshTokenGrantRequest(tpp.as, tpp.client, tpp.auth, refreshToken, tpp.options);
  return oauth.processRefreshTokenResponse(tpp.as, tpp.client, response);
}

/** The command in this process (its own database connection): quicker than a process per call. */
async function inProcess(s: TestServer, args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    readStdin: async () => '',
    env: databaseEnv(s),
  });
  return { code, stdout, stderr };
}

describe('psd2-oauth client: the bank suspends, resumes and deletes a TPP’s clients', () => {
  let s: TestServer;
  let introspect: Awaited<ReturnType<typeof introspector>>;
  let pisp: OAuthTpp;
  let aisp: OAuthTpp;
  before(async () => {
    s = await startTestServer();
    introspect = await introspector(s, await addResourceServer(s, 'accounts-api'));
    // One organisation, two certificates, two clients.
    pisp = await oauthTpp(s, ['PSP_PI'], {}, await makeTpp(s, ['PSP_PI'], { organizationIdentifier: ORG }));
    aisp = await oauthTpp(
      s,
      ['PSP_AI'],
      { redirect_uris: [REDIRECT_URI] },
      await makeTpp(s, ['PSP_AI'], { organizationIdentifier: ORG }),
    );
  });
  after(() => s.close());

  test('suspend by organizationIdentifier: no new token, live tokens inactive, at the next request', async () => {
    const cc = await clientCredentials(pisp);
    const code = await codeTokens(s, aisp);
    assert.equal((await introspect(cc.access_token)).active, true);
    assert.equal((await introspect(code.access_token)).active, true);

    const suspended = await cli(s, ['client', 'suspend', ORG, '--reason', 'NCA withdrew the licence', '--json']);
    assert.equal(suspended.code, 0, suspended.stderr);
    const result = JSON.parse(suspended.stdout);
    assert.equal(result.changed, 2);
    assert.deepEqual(
      result.clients.map((c: { status: string }) => c.status),
      ['suspended', 'suspended'],
    );

    // The very next requests, on the server's warm caches: the CLI's commit is seen.
    assert.deepEqual(await introspect(cc.access_token), { active: false });
    assert.deepEqual(await introspect(code.access_token), { active: false });
    const refused = await oauthError(clientCredentials(pisp));
    assert.equal(refused.error, 'invalid_client');
    assert.equal(refused.status, 401);
    assert.equal((await oauthError(refresh(aisp, code.refresh_token as string))).error, 'invalid_client');

    // Nor can the organisation get round it with a new registration.
    const newcomer = await makeTpp(s, ['PSP_AI'], { organizationIdentifier: ORG });
    const registration = await newcomer.call('POST', '/register', { body: { redirect_uris: [REDIRECT_URI] } });
    assert.equal(registration.status, 403, registration.text);
    assert.equal(registration.json().error, 'access_denied');

    const again = await inProcess(s, ['client', 'suspend', pisp.clientId, '--json']);
    assert.equal(again.code, 0, `exit ${again.code}: ${again.stderr}`);
    assert.equal(JSON.parse(again.stdout).changed, 0, 'already suspended: nothing changes');

    // Resuming one client gives it back its tokens; the other stays suspended.
    const resumed = await inProcess(s, ['client', 'resume', pisp.clientId]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /1 of 1 client\(s\) changed/);
    assert.equal((await introspect(cc.access_token)).active, true, 'not expired: active again');
    assert.equal((await clientCredentials(pisp)).token_type, 'bearer');
    assert.deepEqual(await introspect(code.access_token), { active: false });

    const listed = await inProcess(s, ['client', 'list', '--org', ORG, '--json']);
    const statuses = Object.fromEntries(
      JSON.parse(listed.stdout).map((c: { client_id: string; status: string }) => [c.client_id, c.status]),
    );
    assert.deepEqual(statuses, { [pisp.clientId]: 'active', [aisp.clientId]: 'suspended' });
    const table = await inProcess(s, ['client', 'list', '--status', 'suspended']);
    assert.match(table.stdout, /^CLIENT_ID\s+ORGANIZATION_ID\s+STATUS/);
    assert.ok(table.stdout.includes(aisp.clientId) && !table.stdout.includes(pisp.clientId));
  });

  test('delete: every grant revoked for good; the audit trail names the operator and the reason', async () => {
    const resumed0 = await inProcess(s, ['client', 'resume', aisp.clientId]);
    assert.equal(resumed0.code, 0, resumed0.stderr);
    const code = await codeTokens(s, aisp);
    assert.equal((await introspect(code.access_token)).active, true);
    const deleted = await inProcess(s, ['client', 'delete', aisp.clientId, '--reason', 'fraud', '--json']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(await introspect(code.access_token), { active: false });
    assert.equal((await oauthError(refresh(aisp, code.refresh_token as string))).error, 'invalid_client');
    const resumed = await inProcess(s, ['client', 'resume', aisp.clientId, '--json']);
    assert.equal(JSON.parse(resumed.stdout).changed, 0, 'a deleted client stays deleted');
    assert.deepEqual(await introspect(code.access_token), { active: false });

    const shown = JSON.parse((await inProcess(s, ['client', 'show', aisp.clientId, '--json'])).stdout);
    assert.equal(shown.status, 'deleted');
    assert.deepEqual(
      shown.audit.map((e: { action: string }) => e.action),
      ['client.registered', 'client.suspended', 'client.resumed', 'client.deleted'],
    );
    const last = shown.audit.at(-1);
    assert.match(last.actor, /^operator:.+@.+ \(psd2-oauth CLI\)$/);
    assert.deepEqual(last.detail, { by: 'bank', reason: 'fraud' });
    assert.equal(shown.audit[1].detail.reason, 'NCA withdrew the licence');
  });

  test('an unknown client or organisation is exit code 65', async () => {
    for (const target of ['no-such-client', 'PSDFR-ACPR-NOBODY']) {
      const result = await inProcess(s, ['client', 'suspend', target]);
      assert.equal(result.code, 65, result.stderr);
      assert.match(result.stderr, /^psd2-oauth client: no client/);
    }
  });
});
