// mTLS client authentication for the TPP-facing endpoints: the certificate from the TLS connection
// (or a trusted proxy's RFC 9440 header) becomes a verified TppIdentity, or the request stops with
// 401 invalid_client saying which check failed. Nothing downstream runs, so nothing is stored.
import type { TLSSocket } from 'node:tls';
import type { MiddlewareHandler } from 'hono';
import { OAuthError } from '../protocol/errors.ts';
import { CertificateRejectedError, type TppIdentity, type TppIdentityVerifier } from '../protocol/tpp-identity.ts';
import {
  type ClientCertificate,
  certificateFromTlsSocket,
  resolveClientCertificate,
  type TrustedProxies,
} from './client-certificate.ts';
import type { AppEnv } from './env.ts';

export interface TppAuthenticationDeps {
  verifier: TppIdentityVerifier;
  trustedProxies: TrustedProxies;
  /**
   * How long an identity verified on a keep-alive connection is reused before the full verification
   * (revocation included) runs again; at most a minute. REVOCATION_CACHE_MAX lowers it, so that a
   * certificate revoked while its connection is open is refused within that bound.
   */
  reverifyAfterMs?: number;
}

// The peer certificate cannot change on a connection (renegotiation is off in TLS 1.3 and refused
// by Node for 1.2 clients after the handshake), so it is read once per connection.
const perConnection = new WeakMap<object, ClientCertificate>();

/**
 * The identity verified on a keep-alive connection, reused for its next requests: validity dates
 * are still checked on each, and the full verification (with the revocation extension point) is
 * redone at least every minute.
 */
interface ConnectionIdentity {
  identity: TppIdentity;
  until: number;
}
const identities = new WeakMap<object, ConnectionIdentity>();
const REVERIFY_AFTER_MS = 60_000;

function tlsCertificate(socket: TLSSocket | undefined): ClientCertificate | undefined {
  if (!socket || typeof socket.getPeerCertificate !== 'function') return undefined;
  let cert = perConnection.get(socket);
  if (!cert) {
    cert = certificateFromTlsSocket(socket);
    perConnection.set(socket, cert);
  }
  return cert;
}

export function tppAuthentication(deps: TppAuthenticationDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const socket = c.env?.incoming?.socket as TLSSocket | undefined;
    const proxied = c.req.raw.headers.has('client-cert') || c.req.raw.headers.has('client-cert-chain');
    const known = socket && !proxied ? identities.get(socket) : undefined;
    const now = Date.now();
    if (known && now < known.until && now < known.identity.notAfter.getTime()) {
      c.set('tpp', known.identity);
      return next();
    }
    try {
      const resolved = resolveClientCertificate({
        peerAddress: socket?.remoteAddress,
        headers: c.req.raw.headers,
        tlsCertificate: tlsCertificate(socket),
        trustedProxies: deps.trustedProxies,
        onIgnoredHeader: (event) =>
          c.get('logger').warn(event, 'Client-Cert header from a peer that is not a trusted proxy: ignored'),
      });
      const identity = await deps.verifier.verify(resolved.leaf, resolved.intermediates);
      if (socket && resolved.source === 'tls')
        identities.set(socket, {
          identity,
          until: now + Math.min(deps.reverifyAfterMs ?? REVERIFY_AFTER_MS, REVERIFY_AFTER_MS),
        });
      c.set('tpp', identity);
    } catch (err) {
      if (err instanceof CertificateRejectedError) {
        throw new OAuthError('invalid_client', `client certificate rejected: ${err.message}`, {
          detail: `${err.reason}${err.detail ? `: ${err.detail}` : ''}`,
          challenge: 'mTLS',
        });
      }
      throw err;
    }
    await next();
  };
}
