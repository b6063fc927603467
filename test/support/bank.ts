// A small STET-like bank resource server, as a bank puts one in front of psd2-oauth: it keeps the
// payment requests a PISP posts, registers each at the authorization server over the back channel
// (HTTP Basic, resource-server credentials) and hands the PISP `_links.consentApproval.href`; on
// the PISP's confirmation it introspects the bearer token, checks that its authorization_details
// name this payment and action, and consumes the authorisation once before "executing".
import { request } from './https.ts';
import { addResourceServer, type ResourceServerCredentials } from './oauth-tpp.ts';
import type { TestServer } from './server.ts';

export interface PaymentRequest {
  instructedAmount: { amount: string; currency: string };
  creditorName: string;
  creditorAccount: { iban: string };
  debtorAccount?: { iban: string };
  remittanceInformation?: string;
  requestedExecutionDate?: string;
}

export interface Bank {
  credentials: ResourceServerCredentials;
  /** The back channel as the bank calls it. */
  call(method: string, path: string, body?: object): ReturnType<typeof request>;
  /** STET `POST /payment-requests`: registers the payment; returns the bank's id and the consentApproval href. */
  postPaymentRequest(
    clientId: string,
    payment: PaymentRequest,
    options?: { action?: 'initiate' | 'cancel'; resourceId?: string },
  ): Promise<{ resourceId: string; authorizationId: string; consentApprovalHref: string; paymentHash: string }>;
  /**
   * STET `POST /payment-requests/{id}/confirmation` with the PISP's token: 200 when executed,
   * 403 when the token does not fit this payment and action, 409 when already used.
   */
  confirm(authorizationId: string, accessToken: string, action?: 'initiate' | 'cancel'): Promise<number>;
  executed: string[];
}

let counter = 0;

export async function startBank(server: TestServer, name = `bank-${++counter}`): Promise<Bank> {
  const credentials = await addResourceServer(server, name);
  const basic = `Basic ${btoa(`${credentials.client_id}:${credentials.client_secret}`)}`;
  const call = (method: string, path: string, body?: object) =>
    request(`${server.url}${path}`, { ca: server.caPem, method, headers: { authorization: basic }, body });
  const executed: string[] = [];
  return {
    credentials,
    call,
    executed,
    async postPaymentRequest(clientId, payment, options = {}) {
      const resourceId = options.resourceId ?? `pr-${Date.now()}-${++counter}`;
      const res = await call('POST', '/payment-authorizations', {
        client_id: clientId,
        action: options.action ?? 'initiate',
        payment_request_resource_id: resourceId,
        payment,
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(`registration: ${res.status} ${res.text}`);
      const body = res.json();
      return {
        resourceId,
        authorizationId: body.authorization_id,
        consentApprovalHref: body.consent_approval_href,
        paymentHash: body.payment_hash,
      };
    },
    async confirm(authorizationId, accessToken, action = 'initiate') {
      const introspection = await request(`${server.url}/introspect`, {
        ca: server.caPem,
        method: 'POST',
        headers: { authorization: basic },
        body: new URLSearchParams({ token: accessToken }),
      });
      const claims = introspection.json();
      const detail = claims.authorization_details?.[0];
      if (
        !claims.active ||
        detail?.type !== 'payment_initiation' ||
        detail.identifier !== authorizationId ||
        JSON.stringify(detail.actions) !== JSON.stringify([action])
      ) {
        return 403;
      }
      const consumed = await call('POST', `/payment-authorizations/${authorizationId}/consume`);
      if (consumed.status === 200) executed.push(authorizationId);
      return consumed.status;
    },
  };
}
