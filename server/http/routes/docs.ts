// The human-readable API documentation: Swagger UI with its assets served from this server, never
// from a CDN (a bank's network may not reach one, and its CSP should not have to allow one).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { swaggerUI } from '@hono/swagger-ui';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  const require = createRequire(import.meta.url);
  const cache = new Map<string, Uint8Array>();
  app.get('/docs', swaggerUI({ url: '/openapi.json', baseUrl: '/docs/assets', title: 'psd2-oauth API' }));
  app.get('/docs/assets/swagger-ui-dist/:file', (c) => {
    const file = c.req.param('file');
    const type = ASSETS[file];
    if (!type) return c.notFound();
    let body = cache.get(file);
    if (!body) {
      body = readFileSync(require.resolve(`swagger-ui-dist/${file}`));
      cache.set(file, body);
    }
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': type,
      'Cache-Control': 'public, max-age=86400',
    });
  });
}
