// Storage ports of the token, revocation and introspection endpoints. Implemented in db/ for each
// backend; the token side reads consents and codes the PSU side wrote (psu/ports.ts).
import type { AuthorizationCodeRecord, ConsentRecord } from '../psu/ports.ts';

/** A PSU's consent as the token side reads it: with its withdrawal. */
export interface ConsentState extends ConsentRecord {
  revokedAt: number | null;
}

/** An authorization code as the token side reads it: with its redemption. */
export interface AuthorizationCodeState extends AuthorizationCodeRecord {
  consumedAt: number | null;
  /** The grant created by the redemption that consumed the code. */
  grantId: string | null;
}

/** The token family born from one authorization code. */
export interface GrantRecord {
  grantId: string;
  clientId: string;
  consentId: string;
  psuId: string;
  scope: string;
  refreshTokenDigest: string | null;
  previousRefreshTokenDigest: string | null;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

export type GrantRevocationReason =
  | 'code_reuse'
  | 'refresh_token_revoked'
  | 'refresh_token_reuse'
  | 'client_deleted'
  | 'consent_revoked';

export interface AuthorizationCodeStore {
  /** The code and the consent it carries (absent if the consent row is missing). */
  find(codeDigest: string): Promise<{ code: AuthorizationCodeState; consent: ConsentState | undefined } | undefined>;
  /**
   * Consumes the code if nobody has (one conditional UPDATE) and inserts `grant`, in one
   * transaction. False when another redemption won or the code expired: nothing is written.
   */
  redeem(codeDigest: string, grant: GrantRecord, at: number): Promise<boolean>;
}

export interface GrantStore {
  /** The grant and its consent. */
  find(grantId: string): Promise<{ grant: GrantRecord; consent: ConsentState | undefined } | undefined>;
  /**
   * Rotation. If `presented` is the current refresh token: current := next, previous := presented.
   * If it is the previous one (a retry after a lost response): current := next, previous := null,
   * so it is accepted once. False if neither matched any more (a concurrent request won).
   */
  rotateRefreshToken(grantId: string, presented: string, next: string): Promise<boolean>;
  /** False if the grant was already revoked or does not exist. */
  revoke(grantId: string, reason: GrantRevocationReason, at: number): Promise<boolean>;
}

export interface RevokedAccessTokenStore {
  /** Remembers a revoked jti until `expiresAt`; revoking twice is not an error. */
  revoke(token: { jti: string; clientId: string; expiresAt: number }, at: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

export interface ResourceServerRecord {
  clientId: string;
  name: string;
  secretDigest: string;
  createdAt: number;
  disabledAt: number | null;
}

export interface ResourceServerStore {
  insert(record: ResourceServerRecord): Promise<void>;
  /** An enabled resource server. */
  find(clientId: string): Promise<ResourceServerRecord | undefined>;
  list(): Promise<ResourceServerRecord[]>;
  /** False if unknown or already disabled. */
  disable(clientId: string, at: number): Promise<boolean>;
}
