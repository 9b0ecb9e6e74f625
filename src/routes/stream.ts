/** WS /wss/{session_id} (spec §2): the route only hands the socket to the stream adapter. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { sessionIdPath } from '../protocol/session-schemas.ts';
import { serveStreamSocket } from './stream-connection.ts';

export const streamRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/wss/:session_id', { websocket: true, schema: { params: sessionIdPath } }, (socket, request) => {
    serveStreamSocket(socket, request.params.session_id, app.sessions, {
      maxFrameSamples: app.appConfig.websocket.maxFrameSamples,
      log: request.log,
    });
  });
};
