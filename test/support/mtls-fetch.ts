// A fetch that presents a client certificate and trusts the sandbox CA, for OAuth client libraries
// that take a custom fetch (oauth4webapi's customFetch). Node: an undici Agent; Deno: an HttpClient.
export interface MtlsIdentity {
  ca: string;
  /** The client certificate and its chain, PEM; absent for a caller without a certificate. */
  cert?: string;
  key?: string;
}

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export async function mtlsFetch(identity: MtlsIdentity): Promise<Fetch> {
  const deno = (globalThis as { Deno?: any }).Deno;
  if (deno) {
    const client = deno.createHttpClient({
      caCerts: [identity.ca],
      ...(identity.cert && identity.key ? { cert: identity.cert, key: identity.key } : {}),
    });
    return (input, init) => fetch(input, { ...init, client } as RequestInit);
  }
  const undici = await import('undici');
  const dispatcher = new undici.Agent({
    connect: { ca: identity.ca, cert: identity.cert, key: identity.key },
    // Tests close the server between files: an idle pooled socket must not outlive it.
    keepAliveTimeout: 10,
  });
  return (input, init) =>
    undici.fetch(input as string, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
}
