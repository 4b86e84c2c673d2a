/**
 * node:https and node:tls, loaded at the first https request (or https proxy, or CONNECT tunnel): an agent whose
 * chain and peers are all plain http, as on the devnet, never loads them (docs/memory.md, "The bundle").
 */
import type { ClientRequest, RequestOptions } from 'node:http';
import { createRequire } from 'node:module';
import type * as Https from 'node:https';
import type * as Tls from 'node:tls';

const load = createRequire(import.meta.url);

/** node:https's `request(options)`. */
export function httpsRequest(options: RequestOptions): ClientRequest {
  return (load('node:https') as typeof Https).request(options);
}

/** node:tls's `connect(options)`. */
export function tlsConnect(options: Tls.ConnectionOptions): Tls.TLSSocket {
  return (load('node:tls') as typeof Tls).connect(options);
}
