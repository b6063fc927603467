// drizzle-kit for the PostgreSQL backend: `npm run db:generate` writes both backends' migrations.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './db/pg/schema.ts',
  out: './db/pg/migrations',
});
