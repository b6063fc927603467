// The PostgreSQL implementation of the payment authorisations port, as db/stores-payments.ts does
// it on SQLite: every state change is one conditional UPDATE (eight consumes: one true).
import { and, eq, inArray } from 'drizzle-orm';
import type { PaymentAuthorizationStatus, PaymentAuthorizationStore } from '../../server/protocol/payments/ports.ts';
import { paymentRecord, paymentRow } from '../rows.ts';
import { paymentAuthorizations } from './schema.ts';
import type { PgDb } from './stores.ts';

export function postgresPaymentAuthorizationStore(db: PgDb): PaymentAuthorizationStore {
  const byId = (id: string) => eq(paymentAuthorizations.authorizationId, id);
  const move = async (id: string, from: PaymentAuthorizationStatus[], to: PaymentAuthorizationStatus, at: number) =>
    (
      await db
        .update(paymentAuthorizations)
        .set({ status: to, updatedAt: at })
        .where(and(byId(id), inArray(paymentAuthorizations.status, from)))
        .returning({ id: paymentAuthorizations.authorizationId })
    ).length === 1;
  return {
    async register(record) {
      const inserted = await db
        .insert(paymentAuthorizations)
        .values(paymentRow(record))
        .onConflictDoNothing()
        .returning({ id: paymentAuthorizations.authorizationId });
      if (inserted.length === 1) return { created: true, record };
      // A retry (or a concurrent twin): the row that won, which the conflict guarantees exists.
      const [existing] = await db
        .select()
        .from(paymentAuthorizations)
        .where(
          and(
            eq(paymentAuthorizations.clientId, record.clientId),
            eq(paymentAuthorizations.paymentRequestResourceId, record.paymentRequestResourceId),
            eq(paymentAuthorizations.action, record.action),
          ),
        );
      if (!existing) throw new Error('payment authorization conflict without a row');
      return { created: false, record: paymentRecord(existing) };
    },
    async find(authorizationId) {
      const [row] = await db.select().from(paymentAuthorizations).where(byId(authorizationId));
      return row ? paymentRecord(row) : undefined;
    },
    consume: (id, at) => move(id, ['authorised'], 'consumed', at),
    withdraw: (id, at) => move(id, ['awaiting_authorisation', 'authorised'], 'withdrawn', at),
    reject: (id, at) => move(id, ['awaiting_authorisation'], 'rejected', at),
  };
}
