/**
 * Fast paths: handlers a module hands the server to try, in order, on every request before fastify routes it
 * (the host's downloads of small files, src/host/hot-files.ts). A fast path answers only what it can answer
 * whole and cheaply, and leaves everything else untouched for the routes, which still give every error its
 * envelope. What it answers gets no request log line (the host's downloads are recorded in its database) but is
 * counted in the metrics under the route it names, and shutdown waits for it like any other response.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AgentMetrics } from '../metrics/index.ts';
import type { Connections } from './connections.ts';

/**
 * Answers the request and returns the pattern of the route it stands in for (`/f/:fileId`), or returns
 * undefined having written nothing. Must not throw.
 */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => string | undefined;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts `paths` in front of the server's one request listener (fastify's), which gets every request they leave.
 * @throws Error when the server does not have exactly one request listener
 */
export function installFastPaths(server: Server, paths: readonly FastPath[], connections: Pick<Connections, 'fastPathOpen' | 'track'>, metrics?: Pick<AgentMetrics, 'request'>): void {
  const listeners = server.listeners('request') as RequestListener[];
  const [routes] = listeners;
  if (listeners.length !== 1 || !routes) throw new Error(`the server has ${listeners.length} request listeners, not the framework's one`);
  server.removeListener('request', routes);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (connections.fastPathOpen()) {
      for (const path of paths) {
        let route: string | undefined;
        try {
          route = path(req, res);
        } catch {
          // A fast path must not throw, and one that does must not take the process with it (this is an event
          // listener): the routes answer what it left unanswered; a half-written answer's connection is cut.
          if (!res.headersSent) continue;
          res.destroy();
          return;
        }
        if (route === undefined) continue;
        connections.track(res, metrics && (() => metrics.request(route, req.method ?? '', res.statusCode)));
        return;
      }
    }
    routes.call(server, req, res);
  });
}
