// The human-readable API documentation: Swagger UI with its assets served from this server, never
// from a CDN (a bank's network may not reach one, and its CSP should not have to allow one).
import { swaggerUI } from '@hono/swagger-ui';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUiAsset } from '../../resources.ts';
import type { AppEnv } from '../env.ts';

const ASSETS: Record<Parameters<typeof swaggerUiAsset>[0], string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  const cache = new Map<string, Uint8Array>();
  app.get('/docs', swaggerUI({ url: '/openapi.json', baseUrl: '/docs/assets', title: 'psd2-oauth API' }));
  app.get('/docs/assets/swagger-ui-dist/:file', (c) => {
    const file = c.req.param('file');
    if (!Object.hasOwn(ASSETS, file)) return c.notFound();
    const type = ASSETS[file as keyof typeof ASSETS];
    let body = cache.get(file);
    if (!body) {
      body = swaggerUiAsset(file as keyof typeof ASSETS);
      cache.set(file, body);
    }
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': type,
      'Cache-Control': 'public, max-age=86400',
    });
  });
}
