// Every HTTPS listener of the server is made here, so that the TLS policy and the transport headers
// cannot differ from one listener to the next (the TPP mTLS listener, a PSU listener, any other).
// Runs on Node and on Deno through node:https; see the README's Security section for what Deno's
// implementation honours.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server, type ServerOptions } from 'node:https';
import { getCiphers } from 'node:tls';
import { type HstsSettings, hstsHeader } from './http/security-headers.ts';

/**
 * TLS 1.2 suites of FAPI 1.0 Advanced §8.5 and the FAPI 2.0 Security Profile (RFC 9325 §4.2):
 * ephemeral key exchange and AES-GCM only. No CBC, ChaCha20-Poly1305, CCM or ARIA below TLS 1.3.
 */
export const FAPI_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
] as const;

/** TLS 1.3 suites, all AEAD; listed because a cipher list without any turns TLS 1.3 off in Node. */
export const TLS13_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/** Checks a colon-separated list of OpenSSL TLS 1.2 suite names; returns the unknown ones. */
export function unknownCiphers(list: string): string[] {
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  return list
    .split(':')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !known.has(c.toUpperCase()));
}

export interface TlsListenerSettings {
  cert: string | string[];
  key: string | string[];
  /** Ask the client for a certificate (the TPP listener); the application verifies it. */
  requestCert: boolean;
  /** OpenSSL names of the TLS 1.2 suites, colon-separated; default FAPI_TLS12_CIPHERS. */
  tls12Ciphers?: string;
  hsts: HstsSettings;
}

/** The node:https options of every listener: TLS 1.2 minimum, the suite list, server preference. */
export function tlsServerOptions(settings: TlsListenerSettings): ServerOptions {
  const tls12 = settings.tls12Ciphers ?? FAPI_TLS12_CIPHERS.join(':');
  return {
    cert: settings.cert,
    key: settings.key,
    minVersion: 'TLSv1.2',
    ciphers: [...TLS13_CIPHERS, tls12].join(':'),
    honorCipherOrder: true,
    // The well-known 2048-bit group of RFC 7919 for the DHE-RSA suites; without it they never negotiate.
    dhparam: 'auto',
    requestCert: settings.requestCert,
    // The chain of a client certificate is checked by the application (identically for one
    // forwarded by a trusted proxy), never refused in the handshake.
    rejectUnauthorized: false,
  };
}

/**
 * An HTTPS server with the TLS policy above whose every response, whichever handler writes it
 * (the app, a 503 before it is ready, an error), carries Strict-Transport-Security and nosniff.
 */
export function createHttpsListener(
  settings: TlsListenerSettings,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const hsts = hstsHeader(settings.hsts);
  return createServer(tlsServerOptions(settings), (req, res) => {
    res.setHeader('Strict-Transport-Security', hsts);
    // Set here rather than by the app: no response of this server is meant to be sniffed.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    handler(req, res);
  });
}
