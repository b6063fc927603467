// Mutual TLS for fetch, per runtime: Deno has Deno.createHttpClient, Node has undici's Agent. The
// SDK never imports server code; this is the only runtime-specific file.

export interface TlsCredentials {
  /** PEM: the client certificate, followed by its intermediates. */
  cert: string;
  /** PEM: the private key of the certificate. */
  key: string;
  /** PEM: the CA(s) that signed the server's certificate; the system store when absent. */
  ca?: string;
}

export interface MtlsFetch {
  fetch: (request: Request) => Promise<Response>;
  close(): Promise<void>;
}

interface DenoLike {
  createHttpClient(options: { caCerts?: string[]; cert?: string; key?: string }): { close(): void };
}

export async function createMtlsFetch(credentials: TlsCredentials): Promise<MtlsFetch> {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno?.createHttpClient) {
    const client = deno.createHttpClient({
      cert: credentials.cert,
      key: credentials.key,
      ...(credentials.ca ? { caCerts: [credentials.ca] } : {}),
    });
    return {
      fetch: (request) => fetch(request, { client } as RequestInit),
      async close() {
        client.close();
      },
    };
  }
  const undici = await import('undici');
  const agent = new undici.Agent({
    connect: { cert: credentials.cert, key: credentials.key, ...(credentials.ca ? { ca: credentials.ca } : {}) },
  });
  return {
    // Rebuilt as undici's own request so the dispatcher and the body come from one implementation.
    async fetch(request) {
      const body = request.body ? await request.arrayBuffer() : undefined;
      const response = await undici.fetch(request.url, {
        method: request.method,
        headers: Object.fromEntries(request.headers),
        body,
        redirect: 'manual',
        dispatcher: agent,
      });
      return response as unknown as Response;
    },
    close: () => agent.close(),
  };
}
