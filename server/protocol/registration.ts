// Dynamic client registration (RFC 7591) and its management protocol (RFC 7592) for TPPs
// authenticated by their QWAC. Management needs both the registration access token and a
// certificate of the organisation that registered the client.
import {
  type ClientMetadata,
  type ClientMetadataInput,
  checkClientMetadata,
  type MetadataPolicy,
} from './client-metadata.ts';
import { OAuthError } from './errors.ts';
import type { AuditEvent, ClientRecord, ClientStore } from './registration/ports.ts';
import { randomSecret, secretDigest } from './secrets.ts';
import type { TppIdentity } from './tpp-identity.ts';

export interface RegistrationDeps {
  clients: ClientStore;
  policy: MetadataPolicy;
  now?: () => number;
  /**
   * True while the bank has suspended a client of this organisation (`psd2-oauth client suspend`):
   * its TPP must not get round the suspension by registering a new client.
   */
  organizationSuspended?: (organizationId: string) => Promise<boolean>;
}

/** RFC 7591 §3.2.1 / RFC 7592 §3: the client information response. */
export type ClientInformation = ClientMetadata & {
  client_id: string;
  client_id_issued_at: number;
  registration_access_token?: string;
  registration_client_uri: string;
};

/** Fields a client must not send in an update (RFC 7592 §2.2): the server issues them. */
const SERVER_ISSUED_FIELDS = [
  'registration_access_token',
  'registration_client_uri',
  'client_secret',
  'client_secret_expires_at',
  'client_id_issued_at',
];

function audit(
  action: AuditEvent['action'],
  clientId: string,
  tpp: TppIdentity,
  at: number,
  detail?: Record<string, unknown>,
): AuditEvent {
  return { action, clientId, actorSubjectDn: tpp.subjectDn, actorThumbprint: tpp.thumbprint, occurredAt: at, detail };
}

function information(record: ClientRecord, registrationClientUri: string, token?: string): ClientInformation {
  return {
    ...record.metadata,
    client_id: record.clientId,
    client_id_issued_at: Math.floor(record.issuedAt / 1000),
    ...(token ? { registration_access_token: token } : {}),
    registration_client_uri: registrationClientUri,
  };
}

export async function registerClient(
  deps: RegistrationDeps,
  tpp: TppIdentity,
  input: ClientMetadataInput,
  clientUri: (clientId: string) => string,
): Promise<ClientInformation> {
  if (input.client_id !== undefined) {
    throw new OAuthError('invalid_client_metadata', 'client_id: issued by the server, must not be sent');
  }
  const metadata = checkClientMetadata(input, tpp, deps.policy);
  if (await deps.organizationSuspended?.(tpp.organizationIdentifier)) {
    throw new OAuthError('access_denied', 'the bank has suspended the clients of this organisation');
  }
  const now = deps.now?.() ?? Date.now();
  const clientId = newClientId();
  const token = randomSecret(32);
  const record: ClientRecord = {
    clientId,
    organizationId: tpp.organizationIdentifier,
    organizationName: tpp.organizationName ?? null,
    metadata,
    registrationTokenDigest: await secretDigest(token),
    issuedAt: now,
    updatedAt: now,
  };
  await deps.clients.insert(record, audit('client.registered', clientId, tpp, now, { scope: metadata.scope }));
  return information(record, clientUri(clientId), token);
}

/**
 * RFC 7592 §2: the token is checked before the organisation, and a bad token, a missing token and
 * an unknown client all answer alike (401), so client ids cannot be probed.
 */
async function authorizeManagement(
  deps: RegistrationDeps,
  tpp: TppIdentity,
  clientId: string,
  token: string | undefined,
): Promise<{ record: ClientRecord; digest: string }> {
  const unauthorized = () =>
    new OAuthError('invalid_token', 'the registration access token is missing, invalid or not for this client', {
      challenge: 'Bearer',
    });
  if (!token) throw unauthorized();
  const record = await deps.clients.find(clientId);
  const digest = await secretDigest(token);
  if (!record || !timingSafeEqual(record.registrationTokenDigest, digest)) throw unauthorized();
  if (record.organizationId !== tpp.organizationIdentifier) {
    throw new OAuthError('access_denied', 'the client certificate belongs to another organization than the client', {
      status: 403,
      detail: `client org ${record.organizationId}, certificate org ${tpp.organizationIdentifier}`,
    });
  }
  return { record, digest };
}

export async function readClient(
  deps: RegistrationDeps,
  tpp: TppIdentity,
  clientId: string,
  token: string | undefined,
  clientUri: string,
): Promise<ClientInformation> {
  const { record } = await authorizeManagement(deps, tpp, clientId, token);
  return information(record, clientUri);
}

/**
 * RFC 7592 §2.2: the body replaces the metadata under the rules of registration. The registration
 * access token is rotated on every update and the new one returned: a leaked token stops working
 * at the owner's next update.
 */
export async function updateClient(
  deps: RegistrationDeps,
  tpp: TppIdentity,
  clientId: string,
  token: string | undefined,
  input: ClientMetadataInput,
  clientUri: string,
): Promise<ClientInformation> {
  const { record, digest } = await authorizeManagement(deps, tpp, clientId, token);
  if (input.client_id !== clientId) {
    throw new OAuthError('invalid_client_metadata', 'client_id: must be present and equal the client being updated');
  }
  for (const field of SERVER_ISSUED_FIELDS) {
    if (field in input)
      throw new OAuthError('invalid_client_metadata', `${field}: issued by the server, must not be sent`);
  }
  const metadata = checkClientMetadata(input, tpp, deps.policy);
  const now = deps.now?.() ?? Date.now();
  const next = randomSecret(32);
  const changes = {
    metadata,
    // The certificate of the update may carry a new legal name (a renamed company, a new QWAC).
    organizationName: tpp.organizationName ?? null,
    registrationTokenDigest: await secretDigest(next),
    updatedAt: now,
  };
  const detail = { scope: metadata.scope, previous_subject_dn: record.metadata.tls_client_auth_subject_dn };
  const replaced = await deps.clients.replace(
    clientId,
    digest,
    changes,
    audit('client.updated', clientId, tpp, now, detail),
  );
  if (!replaced) {
    // Another update or a deletion won the race with the same token.
    throw new OAuthError('invalid_token', 'the registration access token is no longer valid', { challenge: 'Bearer' });
  }
  return information({ ...record, ...changes }, clientUri, next);
}

export async function deleteClient(
  deps: RegistrationDeps,
  tpp: TppIdentity,
  clientId: string,
  token: string | undefined,
): Promise<void> {
  const { digest } = await authorizeManagement(deps, tpp, clientId, token);
  const now = deps.now?.() ?? Date.now();
  const deleted = await deps.clients.delete(clientId, digest, audit('client.deleted', clientId, tpp, now));
  if (!deleted) {
    throw new OAuthError('invalid_token', 'the registration access token is no longer valid', { challenge: 'Bearer' });
  }
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * A client_id the bank's operators can pass to the CLI as it is: base64url begins with `-` once in
 * 64 draws, and a command line reads such a word as an option (`client suspend -Xy…` was a usage
 * error). Drawn again until it does not; 144 random bits lose less than a hundredth of a bit.
 */
export function newClientId(): string {
  let clientId = randomSecret(18);
  while (clientId.startsWith('-')) clientId = randomSecret(18);
  return clientId;
}
