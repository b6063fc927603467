// Storage ports of dynamic client registration (RFC 7591/7592) and of every endpoint that looks a
// client up. Implemented in db/ for each backend; every method is async so a networked store can
// implement the same contract.
import type { ClientMetadata } from '../client-metadata.ts';

/** Who did what, for the audit trail (RTS art. 29): always written in the same transaction as the change. */
export interface AuditEvent {
  action: 'client.registered' | 'client.updated' | 'client.deleted' | 'client.suspended' | 'client.resumed';
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
  /**
   * The legal name (O=) in the certificate that registered or last updated the client, verified by
   * the bank; null when the certificate has none, or for a client registered before it was stored.
   */
  organizationName?: string | null;
  metadata: ClientMetadata;
  registrationTokenDigest: string;
  issuedAt: number;
  updatedAt: number;
  /**
   * Set while the bank suspends the client (its TPP's licence withdrawn, fraud): it gets no token,
   * and the tokens it holds are inactive at introspection. Absent or null: not suspended.
   */
  suspendedAt?: number | null;
}

export interface ClientStore {
  insert(record: ClientRecord, audit: AuditEvent): Promise<void>;
  /** A registered, not deleted client, suspended or not (`suspendedAt`). */
  find(clientId: string): Promise<ClientRecord | undefined>;
  /** Replaces metadata and token digest only if the client still has `expectedTokenDigest`. */
  replace(
    clientId: string,
    expectedTokenDigest: string,
    changes: Pick<ClientRecord, 'metadata' | 'organizationName' | 'registrationTokenDigest' | 'updatedAt'>,
    audit: AuditEvent,
  ): Promise<boolean>;
  /** Marks the client deleted and revokes everything issued to it; false if it was already gone. */
  delete(clientId: string, expectedTokenDigest: string, audit: AuditEvent): Promise<boolean>;
}

/** A client as the bank's operators see it, deleted ones included; never its token digest. */
export interface ClientView {
  clientId: string;
  organizationId: string;
  organizationName: string | null;
  metadata: ClientMetadata;
  issuedAt: number;
  updatedAt: number;
  suspendedAt: number | null;
  deletedAt: number | null;
}

/** Who acted, for an operator's change: the audit event without its action and client. */
export type OperatorActor = Pick<AuditEvent, 'actorSubjectDn' | 'actorThumbprint' | 'occurredAt' | 'detail'>;

export interface AuditRecord extends AuditEvent {
  id: string;
}

/**
 * The bank acting on TPP clients (the `psd2-oauth client` command). Each change applies to the
 * clients it names in one transaction, with one audit event per changed client, and returns the ids
 * that changed (a client already in the asked state, or deleted, is left alone).
 */
export interface ClientAdministration {
  /**
   * Every client, deleted ones included, oldest first; optionally of one organisation, and with
   * `suspended: true` only its live clients that are suspended now (registration asks this on every
   * call: an index lookup, not the organisation's whole list).
   */
  list(filter?: { organizationId?: string; suspended?: true }): Promise<ClientView[]>;
  get(clientId: string): Promise<ClientView | undefined>;
  suspend(clientIds: string[], actor: OperatorActor): Promise<string[]>;
  resume(clientIds: string[], actor: OperatorActor): Promise<string[]>;
  /** Deletes the clients and revokes their grants, as RFC 7592 DELETE does. */
  remove(clientIds: string[], actor: OperatorActor): Promise<string[]>;
  /** The client's audit trail, oldest first. */
  auditTrail(clientId: string): Promise<AuditRecord[]>;
}
