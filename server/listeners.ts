// The server's listeners: one per role, on Node and on Deno alike. Each gets its own address and
// certificate request (or none), the TLS policy and transport headers every listener shares
// (https-listener.ts), and the same graceful shutdown.
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { getRequestListener } from '@hono/node-server';
import { createHttpsListener, type TlsListenerSettings } from './https-listener.ts';

/**
 * Which routes a listener serves (server/http/surfaces.ts): `tpp` the mTLS API, `psu` the PSU's
 * pages (no certificate request), `all` both on one listener (the sandbox's default).
 */
export type ListenerRole = 'tpp' | 'psu' | 'all';

export interface ListenerSpec {
  role: ListenerRole;
  host: string;
  port: number;
  tls: TlsListenerSettings;
  /** Turns a listen failure into the start-up error that names the setting. */
  listenError?: (err: unknown) => Error | undefined;
}

export interface Listener {
  role: ListenerRole;
  server: Server;
  host: string;
  port: number;
  /** Starts serving requests (until then they get 503: the app is built once the port is known). */
  serve(handler: ReturnType<typeof getRequestListener>): void;
  /** Stops accepting, lets in-flight requests finish, closes idle keep-alive connections at once. */
  close(): Promise<void>;
}

export async function startListener(spec: ListenerSpec): Promise<Listener> {
  let handler: ReturnType<typeof getRequestListener> | undefined;
  let closing: Promise<void> | undefined;
  // In-flight requests per connection, so that shutdown closes idle keep-alive connections at once
  // and busy ones as soon as their response is sent. Node's closeIdleConnections() does this, but
  // Deno's node:https does not implement it, and a client's pool would hold close() open.
  const inFlight = new Map<Socket, number>();
  const server: Server = createHttpsListener(spec.tls, (req, res) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
    if (closing) res.setHeader('Connection', 'close');
    if (handler) return void handler(req, res);
    res.writeHead(503).end();
  });
  server.on('secureConnection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(spec.listenError?.(err) ?? err));
    server.listen(spec.port, spec.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  return {
    role: spec.role,
    server,
    host: spec.host,
    port: (server.address() as AddressInfo).port,
    serve(h) {
      handler = h;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy();
      });
      return closing;
    },
  };
}
