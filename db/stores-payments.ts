// The SQLite implementation of the payment authorisations port. Every state change is one
// conditional UPDATE, so concurrent callers cannot both win (eight consumes: one true).
import { and, eq, inArray } from 'drizzle-orm';
import type { PaymentAuthorizationStatus, PaymentAuthorizationStore } from '../server/protocol/payments/ports.ts';
import type { Commit } from './group-commit.ts';
import { paymentRecord, paymentRow } from './rows.ts';
import { paymentAuthorizations } from './schema.ts';
import type { Db } from './sqlite.ts';

export function createPaymentAuthorizationStore(db: Db, commit: Commit): PaymentAuthorizationStore {
  const byId = (id: string) => eq(paymentAuthorizations.authorizationId, id);
  const move = (id: string, from: PaymentAuthorizationStatus[], to: PaymentAuthorizationStatus, at: number) =>
    commit(
      () =>
        db
          .update(paymentAuthorizations)
          .set({ status: to, updatedAt: at })
          .where(and(byId(id), inArray(paymentAuthorizations.status, from)))
          .run().changes === 1,
    );
  return {
    register(record) {
      return commit(() => {
        const inserted = db.insert(paymentAuthorizations).values(paymentRow(record)).onConflictDoNothing().run();
        if (inserted.changes === 1) return { created: true, record };
        const existing = db
          .select()
          .from(paymentAuthorizations)
          .where(
            and(
              eq(paymentAuthorizations.clientId, record.clientId),
              eq(paymentAuthorizations.paymentRequestResourceId, record.paymentRequestResourceId),
              eq(paymentAuthorizations.action, record.action),
            ),
          )
          .get();
        if (!existing) throw new Error('payment authorization conflict without a row');
        return { created: false, record: paymentRecord(existing) };
      });
    },
    async find(authorizationId) {
      const row = db.select().from(paymentAuthorizations).where(byId(authorizationId)).get();
      return row ? paymentRecord(row) : undefined;
    },
    consume: (id, at) => move(id, ['authorised'], 'consumed', at),
    withdraw: (id, at) => move(id, ['awaiting_authorisation', 'authorised'], 'withdrawn', at),
    reject: (id, at) => move(id, ['awaiting_authorisation'], 'rejected', at),
  };
}
