// Storage ports of dynamic client registration (RFC 7591/7592) and of every endpoint that looks a
// client up. Implemented in db/ for each backend; every method is async so a networked store can
// implement the same contract.
import type { ClientMetadata } from '../client-metadata.ts';

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
