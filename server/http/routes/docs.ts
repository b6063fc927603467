// The human-readable API documentation: Swagger UI with its assets served from this server, never
// from a CDN (a bank's network may not reach one, and its CSP should not have to allow one).
import type { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUiAsset } from '../../resources.ts';
import type { AppEnv } from '../env.ts';
import { DOCS_CONTENT_SECURITY_POLICY } from '../security-headers.ts';

// No inline script or style, so the page's CSP can forbid both: Swagger UI starts from init.js.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>psd2-oauth API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui-dist/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-dist/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;
const INIT = "window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });\n";
const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': DOCS_CONTENT_SECURITY_POLICY,
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

const ASSETS: Record<Parameters<typeof swaggerUiAsset>[0], string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  const cache = new Map<string, Uint8Array>();
  app.get('/docs', (c) => c.body(PAGE, 200, PAGE_HEADERS));
  app.get('/docs/assets/init.js', (c) =>
    c.body(INIT, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=86400' }),
  );
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
