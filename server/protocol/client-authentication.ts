// tls_client_auth (RFC 8705 §2.1): the client_id names a registered client whose subject DN is the
// one of the certificate presented, and which belongs to the certificate's organisation. The
// certificate itself was verified by the HTTP layer (a QWAC from a trusted CA).
import { sameDn } from './client-metadata.ts';
import { OAuthError } from './errors.ts';
import type { ClientRecord, ClientStore } from './registration/ports.ts';
import type { TppIdentity } from './tpp-identity.ts';

function refused(description: string, detail?: string): OAuthError {
  return new OAuthError('invalid_client', description, { challenge: 'mTLS', detail });
}

export async function authenticateClient(
  clients: Pick<ClientStore, 'find'>,
  tpp: TppIdentity,
  clientId: string | undefined,
): Promise<ClientRecord> {
  if (!clientId) throw refused('client_id is required with tls_client_auth (RFC 8705)');
  const client = await clients.find(clientId);
  // One answer for unknown and mismatching clients: the caller learns nothing about others' ids.
  const failure = 'the client_id is unknown or is not registered for the presented certificate';
  if (!client) throw refused(failure, 'unknown or deleted client');
  if (client.metadata.token_endpoint_auth_method !== 'tls_client_auth') {
    throw refused(failure, `auth method ${client.metadata.token_endpoint_auth_method}`);
  }
  if (client.organizationId !== tpp.organizationIdentifier) {
    throw refused(failure, `organisation ${tpp.organizationIdentifier} is not ${client.organizationId}`);
  }
  if (!sameDn(client.metadata.tls_client_auth_subject_dn, tpp.subjectDn)) {
    throw refused(failure, `subject DN ${tpp.subjectDn} is not the registered one`);
  }
  // Said only to the client's own certificate, after every check above.
  if (client.suspendedAt) throw refused('the client is suspended by the bank', 'suspended client');
  return client;
}
