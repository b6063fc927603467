import type { HttpBindings } from '@hono/node-server';
import type { Logger } from 'pino';
import type { ListenerRole } from '../listeners.ts';
import type { Branding } from '../pages/branding.ts';
import type { OAuthErrorCode } from '../protocol/errors.ts';
import type { TppIdentity } from '../protocol/tpp-identity.ts';

/** What the HTTP layer shares between middleware and handlers for one request. */
export type AppEnv = {
  /** `listener`: the role of the listener the request came in on (server/main.ts); absent when called directly. */
  Bindings: HttpBindings & { listener?: ListenerRole };
  Variables: {
    logger: Logger;
    /** The OAuth client the request acted for, once known: logged, never a secret. */
    clientId?: string;
    /** The TPP authenticated by its certificate, on mTLS endpoints. */
    tpp: TppIdentity;
    /** The form body's parameters, parsed once (form.ts). */
    form?: Record<string, string>;
    errorCode?: OAuthErrorCode;
    /** The error_description sent to the client (logged with every 4xx). */
    errorDescription?: string;
    errorDetail?: string;
    /** The bank's branding for the PSU pages' frame (BANK_NAME, BANK_LOGO, …); absent: neutral. */
    branding?: Branding;
  };
};
