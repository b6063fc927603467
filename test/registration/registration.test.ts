import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCertificateAuthority } from '../../server/pki/ca.ts';
import { request } from '../support/https.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/callback';

/** How many clients are stored, deleted ones included (through the store port). */
async function clientCount(s: TestServer): Promise<number> {
  return (await (await s.stores!()).clientAdministration.list()).length;
}

describe('registration (RFC 7591) over mTLS', () => {
  let s: TestServer;
  let aisp: Tpp;
  before(async () => {
    s = await startTestServer();
    aisp = await makeTpp(s, ['PSP_AI']);
  });
  after(() => s.close());

  test('an AISP registers with its certificate alone and gets defaults from its roles', async () => {
    const res = await aisp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], client_name: 'Acme' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.header('cache-control'), 'no-store');
    const c = res.json();
    assert.ok(c.client_id.length >= 22, 'client_id carries at least 128 bits');
    assert.equal(typeof c.client_id_issued_at, 'number');
    assert.ok(c.registration_access_token.length >= 43);
    assert.equal(c.registration_client_uri, `${s.server.issuer}/register/${c.client_id}`);
    assert.equal(c.scope, 'aisp extended_transaction_history');
    assert.deepEqual(c.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(c.response_types, ['code']);
    assert.equal(c.token_endpoint_auth_method, 'tls_client_auth');
    assert.match(
      c.tls_client_auth_subject_dn,
      /^CN=Test TPP \d+,2\.5\.4\.97=#13/,
      'RFC 4514: an OID-typed value is hex BER',
    );
    assert.deepEqual(c.redirect_uris, [REDIRECT]);
    assert.equal(c.client_name, 'Acme');
  });

  test('a CBPII gets cbpii, a PISP gets pisp with client_credentials and no redirect URI', async () => {
    const cbpii = await makeTpp(s, ['PSP_IC']);
    const a = await cbpii.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.json().scope, 'cbpii');
    assert.deepEqual(a.json().grant_types, ['authorization_code', 'refresh_token']);

    const pisp = await makeTpp(s, ['PSP_PI']);
    const b = await pisp.call('POST', '/register', { body: {} });
    assert.equal(b.status, 201, b.text);
    assert.equal(b.json().scope, 'pisp');
    assert.deepEqual(b.json().grant_types, ['client_credentials']);
    assert.deepEqual(b.json().response_types, []);
    assert.deepEqual(b.json().redirect_uris, []);
  });

  test('a TPP with several roles may register each subset; grant types default from the scopes', async () => {
    const multi = await makeTpp(s, ['PSP_AI', 'PSP_PI', 'PSP_IC']);
    const all = await multi.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } });
    assert.equal(all.status, 201, all.text);
    assert.equal(all.json().scope, 'aisp extended_transaction_history cbpii pisp');
    assert.deepEqual(all.json().grant_types, ['authorization_code', 'refresh_token', 'client_credentials']);
    const onlyPisp = await multi.call('POST', '/register', { body: { grant_types: ['client_credentials'] } });
    assert.equal(onlyPisp.status, 201, onlyPisp.text);
    assert.equal(onlyPisp.json().scope, 'pisp');
    const aispOnly = await multi.call('POST', '/register', { body: { scope: 'aisp', redirect_uris: [REDIRECT] } });
    assert.equal(aispOnly.status, 201);
    assert.deepEqual(aispOnly.json().grant_types, ['authorization_code', 'refresh_token']);
  });

  test('an account servicing PSP alone cannot register: no scope fits its role', async () => {
    const aspsp = await makeTpp(s, ['PSP_AS']);
    const res = await aspsp.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } });
    assert.equal(res.status, 400);
    assert.equal(res.json().error, 'invalid_client_metadata');
    assert.match(res.json().error_description, /^scope: /);
  });

  test('tls_client_auth_subject_dn may be written the way openssl prints it', async () => {
    const tpp = await makeTpp(s, ['PSP_PI'], { name: 'Printable TPP', organizationIdentifier: 'PSDFR-ACPR-PRINT1' });
    const dn = 'CN = Printable TPP, organizationIdentifier = PSDFR-ACPR-PRINT1, O = Printable TPP, C = FR';
    const res = await tpp.call('POST', '/register', { body: { tls_client_auth_subject_dn: dn } });
    assert.equal(res.status, 201, res.text);
  });

  test('localised names and logos round-trip; unknown fields are ignored and not echoed', async () => {
    const res = await aisp.call('POST', '/register', {
      body: {
        redirect_uris: [REDIRECT],
        client_name: 'Acme Budget',
        'client_name#fr': 'Acme Budget (version française)',
        'client_name#en-GB': 'Acme Budget UK',
        'logo_uri#en': 'https://tpp.example/logo-en.png',
        software_id: 'acme-budget',
        software_version: '2.1.0',
        contacts: ['psd2@tpp.example'],
        favourite_colour: 'green',
      },
    });
    assert.equal(res.status, 201, res.text);
    const c = res.json();
    assert.equal(c['client_name#fr'], 'Acme Budget (version française)');
    assert.equal(c['client_name#en-GB'], 'Acme Budget UK');
    assert.equal(c['logo_uri#en'], 'https://tpp.example/logo-en.png');
    assert.equal(c.favourite_colour, undefined);
    const read = await aisp.call('GET', `/register/${c.client_id}`, {
      headers: { authorization: `Bearer ${c.registration_access_token}` },
    });
    assert.equal(read.status, 200);
    assert.equal(read.json()['client_name#fr'], 'Acme Budget (version française)');
    assert.equal(read.json().software_version, '2.1.0');
    assert.equal(read.json().registration_access_token, undefined, 'the token is shown once');
  });

  const invalid: [string, Record<string, unknown>, string, RegExp][] = [
    ['missing redirect_uris for aisp', {}, 'invalid_redirect_uri', /^redirect_uris: required/],
    ['http redirect URI', { redirect_uris: ['http://tpp.example/cb'] }, 'invalid_redirect_uri', /must use https/],
    [
      'redirect URI with a fragment',
      { redirect_uris: ['https://tpp.example/cb#x'] },
      'invalid_redirect_uri',
      /fragment/,
    ],
    ['relative redirect URI', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri', /not an absolute URI/],
    ['redirect_uris not an array', { redirect_uris: REDIRECT }, 'invalid_client_metadata', /^redirect_uris: /],
    [
      'scope outside the roles',
      { redirect_uris: [REDIRECT], scope: 'aisp pisp' },
      'invalid_client_metadata',
      /^scope: pisp is not allowed/,
    ],
    [
      'unknown scope',
      { redirect_uris: [REDIRECT], scope: 'aisp payments' },
      'invalid_client_metadata',
      /^scope: unknown scope payments/,
    ],
    [
      'extended history without aisp',
      { redirect_uris: [REDIRECT], scope: 'extended_transaction_history' },
      'invalid_client_metadata',
      /needs it/,
    ],
    [
      'grant type that does not fit',
      { redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'client_credentials'] },
      'invalid_client_metadata',
      /^grant_types: client_credentials does not fit/,
    ],
    [
      'unknown grant type',
      { redirect_uris: [REDIRECT], grant_types: ['password'] },
      'invalid_client_metadata',
      /^grant_types\.0: /,
    ],
    [
      'refresh without code',
      { redirect_uris: [REDIRECT], grant_types: ['refresh_token'] },
      'invalid_client_metadata',
      /^grant_types: /,
    ],
    [
      'response type token',
      { redirect_uris: [REDIRECT], response_types: ['token'] },
      'invalid_client_metadata',
      /^response_types: only code/,
    ],
    [
      'client_secret_basic',
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' },
      'invalid_client_metadata',
      /^token_endpoint_auth_method: only tls_client_auth/,
    ],
    [
      'another subject DN',
      { redirect_uris: [REDIRECT], tls_client_auth_subject_dn: 'CN=Someone Else,C=FR' },
      'invalid_client_metadata',
      /^tls_client_auth_subject_dn: must equal/,
    ],
    [
      'http logo',
      { redirect_uris: [REDIRECT], logo_uri: 'http://tpp.example/logo.png' },
      'invalid_client_metadata',
      /^logo_uri: must use https/,
    ],
    [
      'bad language tag',
      { redirect_uris: [REDIRECT], 'client_name#not a tag': 'x' },
      'invalid_client_metadata',
      /BCP 47/,
    ],
    [
      'empty localised name',
      { redirect_uris: [REDIRECT], 'client_name#fr': '' },
      'invalid_client_metadata',
      /^client_name#fr: /,
    ],
    [
      'jwks and jwks_uri',
      { redirect_uris: [REDIRECT], jwks: { keys: [{ kty: 'EC' }] }, jwks_uri: 'https://tpp.example/jwks' },
      'invalid_client_metadata',
      /mutually exclusive/,
    ],
    [
      'private key in jwks',
      { redirect_uris: [REDIRECT], jwks: { keys: [{ kty: 'EC', d: 'secret' }] } },
      'invalid_client_metadata',
      /private member d/,
    ],
    [
      'client_id chosen by the TPP',
      { redirect_uris: [REDIRECT], client_id: 'mine' },
      'invalid_client_metadata',
      /^client_id: /,
    ],
    [
      'contacts with a number',
      { redirect_uris: [REDIRECT], contacts: [42] },
      'invalid_client_metadata',
      /^contacts\.0: /,
    ],
  ];

  for (const [name, body, error, description] of invalid) {
    test(`refuses ${name} and stores nothing`, async () => {
      const before = await clientCount(s);
      const res = await aisp.call('POST', '/register', { body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error, error);
      assert.match(res.json().error_description, description);
      assert.equal(await clientCount(s), before);
    });
  }

  test('a body that is not a JSON object is invalid_client_metadata; another media type is 415', async () => {
    const form = await aisp.call('POST', '/register', {
      body: 'redirect_uris=https://x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 415);
    assert.equal(form.json().error, 'invalid_request');
    for (const [type, body] of [
      ['application/json', '{"redirect_uris": ['],
      ['application/json', '[1,2]'],
    ]) {
      const res = await aisp.call('POST', '/register', { body, headers: { 'content-type': type as string } });
      assert.equal(res.status, 400, `${type} ${body}`);
      assert.equal(res.json().error, 'invalid_client_metadata');
    }
  });
});

describe('registration refuses certificates that are not PSD2 QWACs', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  const expectRejected = async (res: Awaited<ReturnType<Tpp['call']>>, description: RegExp) => {
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json().error, 'invalid_client');
    assert.match(res.json().error_description, description);
    assert.match(res.header('www-authenticate') ?? '', /error="invalid_client"/);
  };

  test('no certificate', async () => {
    const before = await clientCount(s);
    await expectRejected(await s.post('/register', { body: { redirect_uris: [REDIRECT] } }), /no client certificate/);
    assert.equal(await clientCount(s), before);
  });

  test('a certificate from a CA that is not trusted', async () => {
    const other = await createCertificateAuthority({ name: 'Rogue CA' });
    const tpp = await makeTpp(s, ['PSP_AI'], { ca: other });
    await expectRejected(await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } }), /trust/);
  });

  test('an expired certificate', async () => {
    const tpp = await makeTpp(s, ['PSP_AI'], {
      notBefore: new Date(Date.now() - 20 * 86400e3),
      notAfter: new Date(Date.now() - 86400e3),
    });
    await expectRejected(await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } }), /expired/);
  });

  test('an e-signature certificate instead of website authentication', async () => {
    const tpp = await makeTpp(s, ['PSP_AI'], { qcType: 'esign' });
    await expectRejected(
      await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } }),
      /QcType statement is not web/,
    );
  });

  test('a certificate without the PSD2 statement', async () => {
    const tpp = await makeTpp(s, ['PSP_AI'], { psd2: false });
    await expectRejected(await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } }), /PSD2/);
  });
});

describe('client management (RFC 7592)', () => {
  let s: TestServer;
  let owner: Tpp;
  let client: { client_id: string; registration_access_token: string };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    s = await startTestServer();
    owner = await makeTpp(s, ['PSP_AI'], { organizationIdentifier: 'PSDFR-ACPR-OWNER1' });
  });
  after(() => s.close());

  test('register, read, update with token rotation, delete, with an audit trail', async () => {
    const created = await owner.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], client_name: 'Before' },
    });
    assert.equal(created.status, 201);
    client = created.json();
    const path = `/register/${client.client_id}`;

    const read = await owner.call('GET', path, { headers: bearer(client.registration_access_token) });
    assert.equal(read.status, 200);
    assert.equal(read.json().client_name, 'Before');
    assert.equal(read.header('cache-control'), 'no-store');

    const updated = await owner.call('PUT', path, {
      headers: bearer(client.registration_access_token),
      body: {
        client_id: client.client_id,
        redirect_uris: [REDIRECT, 'https://tpp.example/other'],
        client_name: 'After',
        scope: 'aisp',
      },
    });
    assert.equal(updated.status, 200, updated.text);
    const next = updated.json();
    assert.equal(next.client_name, 'After');
    assert.equal(next.scope, 'aisp');
    assert.ok(next.registration_access_token);
    assert.notEqual(next.registration_access_token, client.registration_access_token);

    const old = await owner.call('GET', path, { headers: bearer(client.registration_access_token) });
    assert.equal(old.status, 401, 'the rotated-out token no longer works');
    assert.equal(old.json().error, 'invalid_token');
    const fresh = await owner.call('GET', path, { headers: bearer(next.registration_access_token) });
    assert.equal(fresh.status, 200);
    assert.deepEqual(fresh.json().redirect_uris, [REDIRECT, 'https://tpp.example/other']);

    const record = await (await s.stores!()).clients.find(client.client_id);
    assert.ok(record?.registrationTokenDigest);
    assert.notEqual(record.registrationTokenDigest, next.registration_access_token, 'stored hashed, never in clear');
    const deleted = await owner.call('DELETE', path, { headers: bearer(next.registration_access_token) });
    assert.equal(deleted.status, 204);
    const gone = await owner.call('GET', path, { headers: bearer(next.registration_access_token) });
    assert.equal(gone.status, 401);
    const again = await owner.call('DELETE', path, { headers: bearer(next.registration_access_token) });
    assert.equal(again.status, 401);

    const events = await (await s.stores!()).clientAdministration.auditTrail(client.client_id);
    assert.deepEqual(
      events.map((e) => e.action),
      ['client.registered', 'client.updated', 'client.deleted'],
    );
    for (const e of events) {
      assert.match(e.actorSubjectDn, /^CN=Test TPP/);
      assert.match(e.actorThumbprint, /^[A-Za-z0-9_-]{43}$/);
    }
  });

  test('missing token, wrong token and unknown client all answer 401 invalid_token, never 404', async () => {
    const created = (await owner.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } })).json();
    const path = `/register/${created.client_id}`;
    for (const [name, headers, p] of [
      ['missing', {}, path],
      ['wrong', bearer('not-the-token'), path],
      ['basic', { authorization: `Basic ${btoa('a:b')}` }, path],
      ['unknown client', bearer(created.registration_access_token), '/register/unknown-client-id'],
    ] as const) {
      const res = await owner.call('GET', p, { headers });
      assert.equal(res.status, 401, name);
      assert.equal(res.json().error, 'invalid_token', name);
      assert.match(res.header('www-authenticate') ?? '', /^Bearer /, name);
    }
  });

  test('a certificate of another organisation is refused with 403, even with the right token', async () => {
    const created = (
      await owner.call('POST', '/register', { body: { redirect_uris: [REDIRECT], client_name: 'Mine' } })
    ).json();
    const path = `/register/${created.client_id}`;
    const intruder = await makeTpp(s, ['PSP_AI'], { organizationIdentifier: 'PSDFR-ACPR-INTRUDER' });
    const headers = bearer(created.registration_access_token);
    const read = await intruder.call('GET', path, { headers });
    assert.equal(read.status, 403);
    const update = await intruder.call('PUT', path, {
      headers,
      body: { client_id: created.client_id, redirect_uris: ['https://evil.example/cb'] },
    });
    assert.equal(update.status, 403);
    const del = await intruder.call('DELETE', path, { headers });
    assert.equal(del.status, 403);
    const still = await owner.call('GET', path, { headers });
    assert.equal(still.status, 200, 'nothing changed');
    assert.deepEqual(still.json().redirect_uris, [REDIRECT]);
  });

  test('another certificate of the same organisation may manage the client (certificate renewal)', async () => {
    const created = (await owner.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } })).json();
    const renewed = await makeTpp(s, ['PSP_AI'], {
      organizationIdentifier: 'PSDFR-ACPR-OWNER1',
      name: 'Owner renewed',
    });
    const res = await renewed.call('PUT', `/register/${created.client_id}`, {
      headers: bearer(created.registration_access_token),
      body: { client_id: created.client_id, redirect_uris: [REDIRECT] },
    });
    assert.equal(res.status, 200, res.text);
    assert.match(
      res.json().tls_client_auth_subject_dn,
      /Owner renewed/,
      'the binding follows the presented certificate',
    );
  });

  test('a failed update changes nothing and keeps the token valid', async () => {
    const created = (
      await owner.call('POST', '/register', { body: { redirect_uris: [REDIRECT], client_name: 'Kept' } })
    ).json();
    const path = `/register/${created.client_id}`;
    const headers = bearer(created.registration_access_token);
    const attempts: [Record<string, unknown>, RegExp][] = [
      [{ client_id: created.client_id, redirect_uris: ['http://evil.example'] }, /must use https/],
      [{ client_id: 'another', redirect_uris: [REDIRECT] }, /^client_id: /],
      [{ redirect_uris: [REDIRECT] }, /^client_id: /],
      [
        { client_id: created.client_id, redirect_uris: [REDIRECT], registration_access_token: 'x' },
        /^registration_access_token: /,
      ],
      [{ client_id: created.client_id, redirect_uris: [REDIRECT], client_secret: 'x' }, /^client_secret: /],
      [
        { client_id: created.client_id, redirect_uris: [REDIRECT], tls_client_auth_subject_dn: 'CN=Loose,C=FR' },
        /^tls_client_auth_subject_dn: /,
      ],
      [{ client_id: created.client_id, redirect_uris: [REDIRECT], scope: 'pisp' }, /^scope: /],
    ];
    for (const [body, description] of attempts) {
      const res = await owner.call('PUT', path, { headers, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json().error_description, description);
    }
    const read = await owner.call('GET', path, { headers });
    assert.equal(read.status, 200);
    assert.equal(read.json().client_name, 'Kept');
  });
});

describe('registration behind a TLS-terminating proxy (RFC 9440)', () => {
  test('from a trusted proxy the Client-Cert header identifies the TPP; from others it is ignored', async () => {
    const trusting = await startTestServer({ TRUSTED_PROXIES: '127.0.0.0/8, ::1' });
    const distrusting = await startTestServer({ TRUSTED_PROXIES: '10.0.0.0/8' });
    try {
      const tpp = await makeTpp(trusting, ['PSP_PI']);
      const der = Buffer.from(tpp.cert.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
      const headers = { 'client-cert': `:${der}:` };
      const viaProxy = await request(`${trusting.url}/register`, {
        ca: trusting.caPem,
        method: 'POST',
        headers,
        body: {},
      });
      assert.equal(viaProxy.status, 201, viaProxy.text);
      assert.equal(viaProxy.json().scope, 'pisp');

      const malformed = await request(`${trusting.url}/register`, {
        ca: trusting.caPem,
        method: 'POST',
        headers: { 'client-cert': 'not-a-byte-sequence' },
        body: {},
      });
      assert.equal(malformed.status, 401);
      assert.match(malformed.json().error_description, /malformed/);

      // The other server trusts only 10.0.0.0/8: the same header from 127.0.0.1 is just a header.
      const ignored = await request(`${distrusting.url}/register`, {
        ca: distrusting.caPem,
        method: 'POST',
        headers,
        body: {},
      });
      assert.equal(ignored.status, 401);
      assert.match(ignored.json().error_description, /no client certificate/);
    } finally {
      await trusting.close();
      await distrusting.close();
    }
  });
});
