// The domain tables. Portable on purpose (a PostgreSQL store is planned): ids are text, instants are
// integer milliseconds since the epoch, structured values are JSON text; nothing SQLite-only.
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** JOSE signing keys; several may be published at /jwks, exactly one is active for signing. */
export const signingKeys = sqliteTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    alg: text('alg').notNull(),
    publicJwk: text('public_jwk').notNull(),
    privateJwk: text('private_jwk').notNull(),
    /** 'active' signs and is published; 'published' only verifies (rotation); 'retired' is gone from /jwks. */
    status: text('status').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('signing_keys_status').on(t.status)],
);
