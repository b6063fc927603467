// Compile-time only (`npm run typecheck`): each line below must NOT compile. If one starts to
// compile, TypeScript reports the unused @ts-expect-error and the type check fails.
import { createTppClient } from '../../sdk/index.ts';

export async function invalidCalls(): Promise<void> {
  const tpp = createTppClient({ baseUrl: 'https://localhost:8443', cert: '', key: '' });
  // @ts-expect-error a typo in a scope
  await tpp.registerClient({ scope: 'aisp extended_transation_history' });
  // @ts-expect-error scopes out of order or unknown
  await tpp.registerClient({ scope: 'payments' });
  // @ts-expect-error redirect_uris is a list of strings
  await tpp.registerClient({ redirect_uris: 'https://tpp.example/cb' });
  // @ts-expect-error client_name is a string
  await tpp.registerClient({ client_name: 42 });
  // @ts-expect-error a grant type the server does not support
  await tpp.registerClient({ grant_types: ['password'] });
  // @ts-expect-error a localised field must be a string
  await tpp.registerClient({ 'client_name#fr': ['Acme'] });
  // @ts-expect-error the redirect URI is required for an authorization request
  await tpp.authorizationUrl({ clientId: 'c', scope: 'aisp' });
  // @ts-expect-error pisp is never asked of the PSU through this URL
  await tpp.authorizationUrl({ clientId: 'c', redirectUri: 'https://tpp.example/cb', scope: 'pisp' });
  // @ts-expect-error a language the pages do not speak
  await tpp.authorizationUrl({ clientId: 'c', redirectUri: 'https://tpp.example/cb', scope: 'aisp', lang: 'de' });
  // @ts-expect-error the code exchange needs the PKCE verifier
  await tpp.exchangeCode({ clientId: 'c', code: 'x', redirectUri: 'https://tpp.example/cb' });
  // @ts-expect-error a refresh never grants extended_transaction_history
  await tpp.refresh({ clientId: 'c', refreshToken: 'r', scope: 'aisp extended_transaction_history' });
  // @ts-expect-error client_credentials takes no scope: it is always pisp
  await tpp.clientCredentials({ clientId: 'c', scope: 'aisp' });
  // @ts-expect-error an unknown token type hint
  await tpp.revokeToken({ clientId: 'c', token: 't', tokenTypeHint: 'id_token' });
}
