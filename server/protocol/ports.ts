import type { ClientMetadata } from './client-metadata.ts';

// Storage ports, each declared by the protocol code that needs it. Implementations live in db/;
// every method is async so a networked store (PostgreSQL) can implement the same contract.

export type SigningKeyStatus = 'active' | 'published' | 'retired';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwk: Record<string, unknown>;
  status: SigningKeyStatus;
  createdAt: number;
}

export interface SigningKeyStore {
  /** Keys that are not retired, newest first. */
  listPublished(): Promise<StoredSigningKey[]>;
  insert(key: StoredSigningKey): Promise<void>;
  /** Makes `kid` the only active key; the previously active one stays published for verification. */
  activate(kid: string): Promise<void>;
}

export interface HealthProbe {
  ping(): Promise<void>;
}

/** Who did what, for the audit trail (RTS art. 29): always written in the same transaction as the change. */
export interface AuditEvent {
  action: 'client.registered' | 'client.updated' | 'client.deleted';
  clientId: string;
  actorSubjectDn: string;
  actorThumbprint: string;
  occurredAt: number;
  detail?: Record<string, unknown>;
}

export interface ClientRecord {
  clientId: string;
  /** The organizationIdentifier of the registering certificate; it never changes. */
  organizationId: string;
  metadata: ClientMetadata;
  registrationTokenDigest: string;
  issuedAt: number;
  updatedAt: number;
}

export interface ClientStore {
  insert(record: ClientRecord, audit: AuditEvent): Promise<void>;
  /** A registered, not deleted client. */
  find(clientId: string): Promise<ClientRecord | undefined>;
  /** Replaces metadata and token digest only if the client still has `expectedTokenDigest`. */
  replace(
    clientId: string,
    expectedTokenDigest: string,
    changes: Pick<ClientRecord, 'metadata' | 'registrationTokenDigest' | 'updatedAt'>,
    audit: AuditEvent,
  ): Promise<boolean>;
  /** Marks the client deleted and revokes everything issued to it; false if it was already gone. */
  delete(clientId: string, expectedTokenDigest: string, audit: AuditEvent): Promise<boolean>;
}
