// mTLS client authentication for the TPP-facing endpoints: the certificate from the TLS connection
// (or a trusted proxy's RFC 9440 header) becomes a verified TppIdentity, or the request stops with
// 401 invalid_client saying which check failed. Nothing downstream runs, so nothing is stored.
import type { TLSSocket } from 'node:tls';
import type { MiddlewareHandler } from 'hono';
import { OAuthError } from '../protocol/errors.ts';
import { CertificateRejectedError, type TppIdentityVerifier } from '../protocol/tpp-identity.ts';
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
}

// The peer certificate cannot change on a connection (renegotiation is off in TLS 1.3 and refused
// by Node for 1.2 clients after the handshake), so it is read once per connection.
const perConnection = new WeakMap<object, ClientCertificate>();

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
    try {
      const resolved = resolveClientCertificate({
        peerAddress: socket?.remoteAddress,
        headers: c.req.raw.headers,
        tlsCertificate: tlsCertificate(socket),
        trustedProxies: deps.trustedProxies,
        onIgnoredHeader: (event) =>
          c.var.logger.warn(event, 'Client-Cert header from a peer that is not a trusted proxy: ignored'),
      });
      c.set('tpp', await deps.verifier.verify(resolved.leaf, resolved.intermediates));
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
