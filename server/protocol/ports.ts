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
