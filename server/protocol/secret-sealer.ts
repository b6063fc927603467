// The port through which stores keep secrets (signing private keys, PSU TOTP secrets) encrypted at
// rest. The protocol core never sees ciphertext; a store seals on write and opens on read.

export interface SecretSealer {
  /** Identifies the key-encryption key (not secret): which key sealed a value. */
  readonly kekId: string;
  /** Authenticated encryption of `plaintext`, bound to `recordId` (the row it belongs to). */
  seal(plaintext: string, recordId: string): string;
  /** The plaintext; throws if the value was moved to another record, altered, or sealed under another key. */
  open(sealed: string, recordId: string): string;
}

/** Sealed values carry this prefix; a plaintext JSON key or base32 TOTP secret never does. */
export const SEALED_PREFIX = 'kek1:';

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}
