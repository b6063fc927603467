// `psd2-oauth sandbox-cert`: a test QWAC signed by the sandbox CA, so that a TPP developer can call
// the sandbox in one step. Refused in production mode, where the sandbox CA is never trusted.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { issueQwac } from '../pki/qwac.ts';
import { ensureSandboxCa, sandboxPaths } from '../pki/sandbox-files.ts';
import { PSD2_ROLES, type Psd2Role } from '../protocol/scope-policy.ts';
import { parsePsd2OrganizationIdentifier, rfc4514 } from '../protocol/tpp-identity.ts';
import { type Command, keyValues } from './command.ts';
import { DataError, UsageError } from './usage.ts';

const SYNOPSIS = '--org-id PSDFR-ACPR-12345 --roles PSP_AI,PSP_PI --name "Acme TPP" --out DIR [--days 365]';

export const sandboxCertCommand: Command = {
  name: 'sandbox-cert',
  summary: 'issue a test QWAC (key, certificate, chain) signed by the sandbox CA (sandbox mode only)',
  action: {
    summary: 'issue a test QWAC (key, certificate, chain) signed by the sandbox CA (sandbox mode only)',
    synopsis: SYNOPSIS,
    description:
      'Writes tpp-key.pem, tpp-cert.pem, tpp-chain.pem and sandbox-ca.pem into DIR (created if needed) and\nprints the subject DN as the server computes it (the tls_client_auth_subject_dn). Reads DATA_DIR for the\nsandbox CA, creating it on first use.',
    options: {
      'org-id': { type: 'string' },
      roles: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      days: { type: 'string', default: '365' },
    },
    async run(ctx) {
      const values = ctx.values as Record<string, string | undefined>;
      const config = ctx.storage();
      if (config.mode !== 'sandbox') {
        throw new UsageError(
          'sandbox-cert is refused in production mode (MODE=production): the sandbox CA is never trusted there',
        );
      }
      const orgId = values['org-id'];
      if (!orgId || !parsePsd2OrganizationIdentifier(orgId)) {
        throw new DataError('--org-id must look like PSDFR-ACPR-12345 (PSD, country, NCA, id)');
      }
      const roles = (values.roles ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const unknown = roles.filter((r) => !PSD2_ROLES.includes(r as Psd2Role));
      if (roles.length === 0 || unknown.length > 0) {
        throw new DataError(`--roles takes a comma-separated list of ${PSD2_ROLES.join(', ')}`);
      }
      if (!values.name?.trim()) throw new UsageError('--name NAME is required');
      if (!values.out) throw new UsageError('--out DIR is required');
      const days = Number(values.days);
      if (!Number.isInteger(days) || days < 1 || days > 825)
        throw new DataError('--days must be a whole number from 1 to 825');

      const ca = await ensureSandboxCa(config.dataDir);
      const issued = await issueQwac(ca, {
        name: values.name.trim(),
        organizationIdentifier: orgId,
        roles: roles as Psd2Role[],
        notAfter: new Date(Date.now() + days * 86_400_000),
      });
      const out = resolve(values.out);
      mkdirSync(out, { recursive: true });
      const files = {
        key: join(out, 'tpp-key.pem'),
        certificate: join(out, 'tpp-cert.pem'),
        chain: join(out, 'tpp-chain.pem'),
        ca: join(out, 'sandbox-ca.pem'),
      };
      writeFileSync(files.key, issued.keyPem, { mode: 0o600 });
      writeFileSync(files.certificate, issued.certPem);
      // The chain a TLS client presents: the leaf then its intermediates (none under the sandbox root).
      writeFileSync(files.chain, [issued.certPem, issued.chainPem].filter(Boolean).join('\n'));
      writeFileSync(files.ca, ca.certificate.toString('pem'));
      const printed = {
        // As the server computes it: the value of tls_client_auth_subject_dn (RFC 8705).
        subject_dn: rfc4514(issued.certificate.subjectName.toArrayBuffer()),
        organization_identifier: orgId,
        roles,
        not_after: issued.certificate.notAfter.toISOString(),
        files,
        sandbox_ca: sandboxPaths(config.dataDir).caCert,
      };
      ctx.print(printed, () => {
        const { files: _, ...rest } = printed;
        return keyValues({ ...rest, ...files });
      });
      return 0;
    },
  },
};
