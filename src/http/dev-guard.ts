/**
 * The devnet controls (`/v1/dev/*`) move money and time, so a web page must not be able to drive them from a
 * browser. A cross-site form or `fetch` without a CORS preflight can only send text/plain, urlencoded or
 * multipart bodies (the Fetch standard's CORS-safelisted request headers), and a browser names the page's origin
 * in `Origin` on every cross-origin POST. So these routes take only application/json, and refuse any request
 * whose Origin is present and not the agent's own (a customer's file served in a sandbox has the origin
 * "null", which is refused too). Requests without Origin (curl, the CLI) are not from a page and pass.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AgentError } from '../errors/index.ts';
import { hasBody } from './errors.ts';

/** The origin (scheme://host[:port]) of a URL, or undefined when it is not one. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** True when the Content-Type header names application/json (parameters such as charset allowed). */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  return contentType.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/**
 * The checks, in order: a non-devnet agent answers 404 whatever the request (`exists`), then the Origin, then
 * the media type. A request with no body and no Content-Type (`curl -X POST .../jobs/watcher`) passes.
 * @throws AgentError DEVNET_ONLY, FORBIDDEN_ORIGIN, UNSUPPORTED_MEDIA_TYPE
 */
function checkDevRequest(req: FastifyRequest, ownUrl: string, exists: () => void): void {
  exists();
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== originOf(ownUrl)) {
    throw new AgentError('FORBIDDEN_ORIGIN', 'the devnet controls answer only pages of the agent\'s own origin');
  }
  const type = req.headers['content-type'];
  if ((type !== undefined || hasBody(req)) && !isJson(type)) {
    throw new AgentError('UNSUPPORTED_MEDIA_TYPE', 'the devnet controls take only application/json');
  }
}

/** The route option that runs `checkDevRequest` before the body is read. */
export function devGuard(ownUrl: () => string, exists: () => void) {
  return {
    onRequest: (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
      try {
        checkDevRequest(req, ownUrl(), exists);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  };
}
