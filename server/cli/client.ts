// `psd2-oauth client list|show|suspend|resume|delete`: the bank acting on TPP clients, by client id
// or by organizationIdentifier (every client of the TPP). The NCA withdraws a licence: `client suspend
// PSDFR-ACPR-12345` and that organisation gets no token from the next request on, while the tokens it
// holds are inactive at introspection (the server notices the CLI's commit before its next read).
import { hostname, userInfo } from 'node:os';
import type { Stores } from '../../db/stores.ts';
import type { ClientView, OperatorActor } from '../protocol/registration/ports.ts';
import { parsePsd2OrganizationIdentifier } from '../protocol/tpp-identity.ts';
import { type ActionContext, type Command, iso, keyValues, option, table } from './command.ts';
import { withStores } from './stores.ts';
import { DataError } from './usage.ts';

const status = (c: ClientView) => (c.deletedAt !== null ? 'deleted' : c.suspendedAt !== null ? 'suspended' : 'active');

function view(c: ClientView) {
  return {
    client_id: c.clientId,
    organization_id: c.organizationId,
    organization_name: c.organizationName,
    client_name: c.metadata.client_name ?? null,
    status: status(c),
    scope: c.metadata.scope ?? null,
    grant_types: c.metadata.grant_types ?? [],
    subject_dn: c.metadata.tls_client_auth_subject_dn,
    issued_at: iso(c.issuedAt),
    updated_at: iso(c.updatedAt),
    suspended_at: iso(c.suspendedAt),
    deleted_at: iso(c.deletedAt),
  };
}

/** The clients `target` names: the client of that id, or every client of that organisation. */
async function resolve(stores: Stores, target: string): Promise<ClientView[]> {
  const one = await stores.clientAdministration.get(target);
  if (one) return [one];
  if (parsePsd2OrganizationIdentifier(target)) {
    const all = await stores.clientAdministration.list({ organizationId: target });
    if (all.length > 0) return all;
    throw new DataError(`no client of the organisation ${target}`);
  }
  throw new DataError(`no client ${target} (give a client_id or an organizationIdentifier like PSDFR-ACPR-12345)`);
}

/** The operator, as the audit trail records an action of the bank (no certificate: the local account). */
function actor(ctx: ActionContext): OperatorActor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's random uid): the host still says where it ran.
  }
  const reason = option(ctx.values, 'reason');
  return {
    actorSubjectDn: `operator:${user}@${hostname()} (psd2-oauth CLI)`,
    actorThumbprint: '',
    occurredAt: Date.now(),
    detail: { by: 'bank', ...(reason ? { reason } : {}) },
  };
}

const reason = { reason: { type: 'string' } } as const;

function change(verb: 'suspend' | 'resume' | 'delete') {
  return async (ctx: ActionContext) => {
    const target = ctx.positionals[0] as string;
    return withStores(ctx, async (stores) => {
      const clients = await resolve(stores, target);
      const ids = clients.map((c) => c.clientId);
      const admin = stores.clientAdministration;
      const who = actor(ctx);
      const changed =
        verb === 'suspend'
          ? await admin.suspend(ids, who)
          : verb === 'resume'
            ? await admin.resume(ids, who)
            : await admin.remove(ids, who);
      const after = await Promise.all(ids.map((id) => admin.get(id)));
      const rows = after
        .filter((c) => c !== undefined)
        .map((c) => ({ ...view(c), changed: changed.includes(c.clientId) }));
      ctx.print(
        { target, changed: changed.length, clients: rows },
        () =>
          `${changed.length} of ${rows.length} client(s) changed\n${table(rows, ['client_id', 'organization_id', 'status', 'changed', 'client_name'])}`,
      );
      return 0;
    });
  };
}

export const clientCommand: Command = {
  name: 'client',
  summary: 'the TPPs’ OAuth clients: list, show, suspend, resume, delete (by client id or organizationIdentifier)',
  description:
    'Works on the database only (DATA_DIR or DATABASE_URL), also while the server runs: a running server\nsees the change from its next request. Every change is written to the audit trail (audit_events) with\nthe operator account that made it and the --reason given.',
  actions: {
    list: {
      summary: 'every client, deleted ones included, oldest first',
      synopsis: '[--org PSDFR-ACPR-12345] [--status active|suspended|deleted]',
      options: { org: { type: 'string' }, status: { type: 'string' } },
      async run(ctx) {
        const wanted = option(ctx.values, 'status');
        if (wanted && !['active', 'suspended', 'deleted'].includes(wanted)) {
          throw new DataError('--status is active, suspended or deleted');
        }
        return withStores(ctx, async (stores) => {
          const rows = (await stores.clientAdministration.list({ organizationId: option(ctx.values, 'org') }))
            .map(view)
            .filter((c) => !wanted || c.status === wanted);
          ctx.print(rows, () =>
            table(rows, ['client_id', 'organization_id', 'status', 'scope', 'issued_at', 'client_name']),
          );
          return 0;
        });
      },
    },
    show: {
      summary: 'one client: its registered metadata, its state and its audit trail',
      synopsis: 'CLIENT_ID',
      positionals: ['CLIENT_ID'],
      async run(ctx) {
        const clientId = ctx.positionals[0] as string;
        return withStores(ctx, async (stores) => {
          const client = await stores.clientAdministration.get(clientId);
          if (!client) throw new DataError(`no client ${clientId}`);
          const audit = (await stores.clientAdministration.auditTrail(clientId)).map((e) => ({
            occurred_at: iso(e.occurredAt),
            action: e.action,
            actor: e.actorSubjectDn,
            actor_thumbprint: e.actorThumbprint || null,
            detail: e.detail ?? null,
          }));
          const out = { ...view(client), metadata: client.metadata, audit };
          ctx.print(out, () => {
            const { metadata, audit: _, ...summary } = out;
            const uris = { redirect_uris: metadata.redirect_uris ?? [] };
            return `${keyValues({ ...summary, ...uris })}\n${table(
              audit.map((a) => ({ ...a, detail: a.detail ? JSON.stringify(a.detail) : null })),
              ['occurred_at', 'action', 'actor', 'detail'],
            )}`;
          });
          return 0;
        });
      },
    },
    suspend: {
      summary: 'refuse the client(s) every new token at once; their live tokens turn inactive at introspection',
      synopsis: 'CLIENT_ID|ORGANIZATION_ID [--reason TEXT]',
      positionals: ['CLIENT_ID|ORGANIZATION_ID'],
      options: reason,
      description:
        'Reversible (resume). The grants are kept: after resume, refresh tokens work again and access tokens not\nyet expired are active again.',
      run: change('suspend'),
    },
    resume: {
      summary: 'lift a suspension',
      synopsis: 'CLIENT_ID|ORGANIZATION_ID [--reason TEXT]',
      positionals: ['CLIENT_ID|ORGANIZATION_ID'],
      options: reason,
      run: change('resume'),
    },
    delete: {
      summary: 'delete the client(s) as RFC 7592 DELETE does: every grant revoked, for good',
      synopsis: 'CLIENT_ID|ORGANIZATION_ID [--reason TEXT]',
      positionals: ['CLIENT_ID|ORGANIZATION_ID'],
      options: reason,
      description: 'The row stays for the audit trail (status deleted); the TPP may register a new client.',
      run: change('delete'),
    },
  },
};
