/**
 * The web client: GET /, /dashboard and /static/* (spec §1.3.19), served by @fastify/static from
 * the first existing static folder.
 *
 * @fastify/static gives ETag/Last-Modified revalidation (304), single byte ranges (206/416), HEAD
 * and refuses "..". On top of it: dotfiles are invisible, a symlink may not lead out of the folder
 * it was served from, and JavaScript is text/javascript (the page loads an AudioWorklet module).
 */
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { contentTypeOf, fallbackPage, findStaticDir, isInsideRealDir } from './static-files.ts';
import { AppError } from '../errors.ts';

export interface StaticRoutesOptions {
  cwd: string;
}

/** Registers the web client's routes (encapsulated: its own @fastify/static instance). */
export const staticRoutes: FastifyPluginAsync<StaticRoutesOptions> = async (app, options) => {
  const candidates = app.appConfig.paths.staticDirs;
  const root = findStaticDir(candidates, options.cwd);
  if (root) app.log.info({ staticDir: root }, 'serving the web client');
  else app.log.warn({ candidates }, 'no static folder found; / shows a fallback page');

  const servingRoots = root ? [root] : [];
  await app.register(fastifyStatic, {
    ...(root ? { root, prefix: '/static/' } : { serve: false }),
    index: false,
    dotfiles: 'ignore',
    serveDotFiles: false,
    // The page and its worklet must never be stale after an update: revalidate every time.
    cacheControl: false,
    async onFile(path) {
      // A symlink inside the folder may point anywhere; only real paths inside it are served.
      if (!(await isInsideRealDir(path, servingRoots))) throw new AppError('notFound', 'Not found');
    },
    setHeaders(reply, path) {
      reply.header('cache-control', 'no-cache');
      reply.header('content-type', contentTypeOf(path));
      reply.header('x-content-type-options', 'nosniff');
    },
  });

  const sendPage = (reply: FastifyReply, name: string): FastifyReply =>
    root ? reply.sendFile(name, root) : reply.callNotFound() as unknown as FastifyReply;

  app.get('/', async (_request, reply) => {
    if (root && (await isInsideRealDir(`${root}/index.html`, servingRoots))) return sendPage(reply, 'index.html');
    return reply.type('text/html; charset=utf-8').send(fallbackPage(candidates));
  });

  // The operator dashboard (static/dashboard.html), at the short address operators type.
  app.get('/dashboard', async (_request, reply) => sendPage(reply, 'dashboard.html'));
};

