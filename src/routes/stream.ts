/** WS /wss/{session_id} (spec §2): the route only checks the Origin and hands the socket to the stream adapter. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { originPolicy } from '../plugins/origin-policy.ts';
import { closeCodes } from '../protocol/close-codes.ts';
import { sessionIdPath } from '../protocol/session-schemas.ts';
import { z } from 'zod';

/** `text_frames=delta` (ours): translation frames carry only what changed; the original's page sends nothing and gets full-text frames. */
const streamQuery = z.object({
  text_frames: z.enum(['full', 'delta']).optional(),
  /** `lag=true` (ours): a `LAG: <ms>` frame every websocket.lagIntervalMs while the session translates. */
  lag: z.enum(['true', 'false']).optional(),
});
import { refuseSocket, serveStreamSocket } from './stream-connection.ts';

export const streamRoutes: FastifyPluginAsyncZod = async (app) => {
  // Cross-site pages may not open streams (W14) unless cors.origins lets them; clients that send no
  // Origin (scripts) are not browsers.
  const origins = originPolicy(app.appConfig.cors.origins);

  app.get('/wss/:session_id', { websocket: true, schema: { params: sessionIdPath, querystring: streamQuery } }, (socket, request) => {
    if (!origins.allows(request.headers.origin, request.headers.host)) {
      refuseSocket(socket, closeCodes.originNotAllowed);
      return;
    }
    serveStreamSocket(socket, request.params.session_id, app.sessions, {
      maxFrameSamples: app.appConfig.websocket.maxFrameSamples,
      log: request.log,
      textFrames: request.query.text_frames ?? 'full',
      lagIntervalMs: request.query.lag === 'true' ? app.appConfig.websocket.lagIntervalMs : 0,
    });
  });
};
