// Compile-time only (`npm run typecheck`): calls a TPP developer should be able to write. Never run.
import {
  type ClientMetadata,
  createTppClient,
  OAuthError,
  type PaymentInitiationDetail,
  paymentRedirect,
} from '../../sdk/index.ts';

export async function validCalls(): Promise<void> {
  const tpp = createTppClient({ baseUrl: 'https://localhost:8443', cert: '', key: '', ca: '' });
  const metadata: ClientMetadata = {
    redirect_uris: ['https://tpp.example/cb'],
    scope: 'aisp extended_transaction_history',
    client_name: 'Acme',
    'client_name#fr': 'Acme (FR)',
    'logo_uri#en': 'https://tpp.example/logo.png',
    grant_types: ['authorization_code', 'refresh_token'],
    contacts: ['psd2@tpp.example'],
  };
  const client = await tpp.registerClient(metadata);
  await tpp.registerClient({ scope: 'pisp' });
  await tpp.registerClient({ redirect_uris: ['https://tpp.example/cb'], scope: 'aisp cbpii pisp' });
  const read = await tpp.getClient(client.client_id, client.registration_access_token ?? '');
  const name: string | undefined = read['client_name#fr'];
  await tpp.updateClient(client.client_id, 'rat', { redirect_uris: ['https://tpp.example/cb'], scope: 'aisp' });
  const { url, state, codeVerifier } = await tpp.authorizationUrl({
    clientId: client.client_id,
    redirectUri: 'https://tpp.example/cb',
    scope: 'aisp extended_transaction_history',
    lang: 'en',
  });
  await tpp.pushAuthorizationRequest({ clientId: client.client_id, redirectUri: url, scope: 'cbpii', state });
  const payment = await paymentRedirect('https://localhost:8443/authorize?client_id=c', {
    redirectUri: 'https://pisp.example/cb',
  });
  const paid = await tpp.exchangeCode({
    clientId: 'c',
    code: 'c',
    redirectUri: payment.url,
    codeVerifier: payment.codeVerifier,
  });
  const detail: PaymentInitiationDetail | undefined = paid.authorization_details?.[0];
  const amount: string | undefined = detail?.instructedAmount.amount;
  const hash: string | undefined = detail?.payment_hash;
  const debtor: string | undefined = detail?.debtorAccount?.iban;
  void [amount, hash, debtor];
  const tokens = await tpp.exchangeCode({
    clientId: client.client_id,
    code: 'c',
    redirectUri: 'https://tpp.example/cb',
    codeVerifier,
  });
  await tpp.refresh({ clientId: client.client_id, refreshToken: tokens.refresh_token ?? '', scope: 'aisp' });
  await tpp.clientCredentials({ clientId: client.client_id });
  await tpp.revokeToken({ clientId: client.client_id, token: tokens.access_token, tokenTypeHint: 'access_token' });
  await tpp.deleteClient(client.client_id, 'rat');
  try {
    await tpp.clientCredentials({ clientId: 'x' });
  } catch (err) {
    if (err instanceof OAuthError) {
      const code: string = err.error;
      const status: number = err.status;
      void [code, status];
    }
  }
  void name;
  await tpp.close();
}
