/** When an upload's body is cut off: for the PUT (./routes.ts) and the tus PATCH (./tus-routes.ts). */
import type { FastifyRequest } from 'fastify';

/**
 * A signal that aborts when the request's body stops before it is complete: the request closes, or its socket
 * does. The socket is watched too because a client that closes its end cleanly mid-body makes Node's parser fail
 * at the end of the stream, and the agent's client error handler (src/http/errors.ts) then answers the request,
 * after which Node no longer aborts the request's stream: without this the upload would wait on it forever.
 */
export function bodyCutOff(req: FastifyRequest): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  const socket = req.raw.socket;
  const onClose = () => {
    if (!req.raw.complete) abort.abort();
  };
  req.raw.on('close', onClose);
  socket.on('close', onClose);
  return {
    signal: abort.signal,
    dispose: () => {
      req.raw.off('close', onClose);
      socket.off('close', onClose);
    },
  };
}
