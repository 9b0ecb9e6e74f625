/** GET /, /static/* (spec §1.3.19) and /dashboard: the web client from the first existing static folder. */
import { createReadStream } from 'node:fs';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { contentTypeOf, fallbackPage, findStaticDir, resolveStaticFile } from './static-files.ts';

export interface StaticRoutesOptions {
  cwd: string;
}

export const staticRoutes: FastifyPluginAsync<StaticRoutesOptions> = async (app, options) => {
  const candidates = app.appConfig.paths.staticDirs;
  const root = findStaticDir(candidates, options.cwd);
  if (root) app.log.info({ staticDir: root }, 'serving the web client');
  else app.log.warn({ candidates }, 'no static folder found; / shows a fallback page');

  async function serve(request: FastifyRequest, reply: FastifyReply, path: string): Promise<FastifyReply> {
    const file = root ? await resolveStaticFile(root, path) : null;
    if (!file) {
      reply.callNotFound();
      return reply;
    }
    const etag = `W/"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`;
    reply
      .header('ETag', etag)
      .header('Last-Modified', new Date(file.mtimeMs).toUTCString())
      // Revalidate every time: the page and its worklet must never be stale after an update.
      .header('Cache-Control', 'no-cache')
      .type(contentTypeOf(file.path));
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    reply.header('Content-Length', file.size);
    return reply.send(createReadStream(file.path));
  }

  app.get('/', async (request, reply) => {
    if (root && (await resolveStaticFile(root, 'index.html'))) return serve(request, reply, 'index.html');
    return reply.type('text/html; charset=utf-8').send(fallbackPage(candidates));
  });

  // The operator dashboard (static/dashboard.html), at the short address operators type.
  app.get('/dashboard', async (request, reply) => serve(request, reply, 'dashboard.html'));

  app.get('/static/*', async (request, reply) => {
    const params = request.params as Record<string, string | undefined>;
    return serve(request, reply, params['*'] ?? '');
  });
};
