// Storage ports of the signing keys (signing-keys.ts): shared by every instance on one database.

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
