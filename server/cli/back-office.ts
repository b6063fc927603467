// `psd2-oauth back-office credentials`: the bank's back office's own HTTP Basic credentials for the
// permission API (/psus/{psu_id}/permissions). The secret is printed once; the server only ever
// holds its SHA-256 (BACK_OFFICE_SECRET_SHA256), as for the resource servers' secrets.
import { randomSecret, secretDigest } from '../protocol/secrets.ts';
import { type Command, keyValues, option } from './command.ts';
import { UsageError } from './usage.ts';

export const backOfficeCommand: Command = {
  name: 'back-office',
  summary: 'credentials of the bank’s back office for the permission API: credentials',
  description: 'Touches no database: the two settings it prints configure the server.',
  actions: {
    credentials: {
      summary: 'a new secret, printed once, and the BACK_OFFICE_* settings that accept it',
      synopsis: '[--client-id NAME]',
      description:
        'Set BACK_OFFICE_CLIENT_ID and BACK_OFFICE_SECRET_SHA256 on the server (a restart applies them);\ngive client_id and client_secret to the online banking back end, for HTTP Basic.',
      options: { 'client-id': { type: 'string' } },
      async run(ctx) {
        const clientId = option(ctx.values, 'client-id') ?? 'back-office';
        if (!/^[A-Za-z0-9._~-]{1,64}$/.test(clientId)) {
          throw new UsageError('--client-id: letters, digits and . _ ~ - (1 to 64)');
        }
        const secret = randomSecret(32);
        const digest = await secretDigest(secret);
        const out = {
          client_id: clientId,
          client_secret: secret,
          settings: { BACK_OFFICE_CLIENT_ID: clientId, BACK_OFFICE_SECRET_SHA256: digest },
        };
        ctx.print(
          out,
          () =>
            `${keyValues({ client_id: clientId, client_secret: secret })}(the secret is shown once)\n\nServer settings:\nBACK_OFFICE_CLIENT_ID=${clientId}\nBACK_OFFICE_SECRET_SHA256=${digest}\n`,
        );
        return 0;
      },
    },
  },
};
