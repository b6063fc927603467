// client_credentials (RFC 6749 §4.4): a PISP's token for payment initiation. Nothing is written:
// the token is a signed JWT, revocable by its jti or by deleting the client.
import { OAuthError } from '../errors.ts';
import { checkEntitlement, type GrantHandler, parseScopeParameter, tokenResponse } from './types.ts';

export const clientCredentialsGrant: GrantHandler<'scope'> = {
  name: 'client_credentials',
  parameters: ['scope'],
  async handle(context) {
    const { client, tpp, params } = context;
    const scopes = params.scope === undefined ? (['pisp'] as const) : parseScopeParameter(params.scope);
    if (scopes.length !== 1 || scopes[0] !== 'pisp') {
      throw new OAuthError('invalid_scope', 'client_credentials grants the pisp scope only');
    }
    if (!tpp.roles.includes('PSP_PI')) {
      throw new OAuthError('unauthorized_client', 'client_credentials needs the PSP_PI role in the certificate');
    }
    checkEntitlement(client, tpp, scopes);
    return tokenResponse(context, { sub: client.clientId, scopes });
  },
};
