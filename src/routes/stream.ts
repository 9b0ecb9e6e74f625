/** WS /wss/{session_id} (spec §2): the route only checks the Origin and hands the socket to the stream adapter. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { closeCodes } from '../protocol/close-codes.ts';
import { sessionIdPath } from '../protocol/session-schemas.ts';
import { refuseSocket, serveStreamSocket } from './stream-connection.ts';

export const streamRoutes: FastifyPluginAsyncZod = async (app) => {
  const origins = app.appConfig.cors.origins;
  // With an allow-list configured, cross-site pages may not open streams either (W14); "*" keeps
  // the original's open behaviour. Clients that send no Origin (scripts) are not browsers.
  const isOriginAllowed = (origin: string | undefined): boolean => origins.includes('*') || origin === undefined || origins.includes(origin);

  app.get('/wss/:session_id', { websocket: true, schema: { params: sessionIdPath } }, (socket, request) => {
    if (!isOriginAllowed(request.headers.origin)) {
      refuseSocket(socket, closeCodes.originNotAllowed);
      return;
    }
    serveStreamSocket(socket, request.params.session_id, app.sessions, {
      maxFrameSamples: app.appConfig.websocket.maxFrameSamples,
      log: request.log,
    });
  });
};
