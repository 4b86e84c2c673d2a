// A reverse proxy in front of a real agent for the page's tus tests: it serves the page (so the browser talks to
// it alone), forwards every request, records each one, and cuts the first PATCH once `cutAt` of its body bytes
// have gone through. What the agent had by then is kept (src/host/resumable.ts).
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ctx } from '../helpers/agent.ts';

export interface Seen {
  method: string;
  path: string;
  /** Body bytes forwarded to the agent. */
  sent: number;
  /** The Upload-Offset the agent answered a HEAD with. */
  offset?: number;
  /** The Upload-Offset a PATCH was sent with. */
  from?: number;
  /** The agent's answer. */
  status?: number;
  /** This PATCH was the one cut. */
  cut?: boolean;
}

/**
 * How the first PATCH is cut: 'drop' closes the connection both ways, as a lost network would leave it (the
 * browser's tus client then asks for the offset and sends the rest); 'stall' drops only the agent's side and
 * leaves the browser waiting for an answer that never comes, until the page goes away.
 */
export type Cut = 'drop' | 'stall';

/** The proxy, and `cut`, which resolves once the first PATCH has been cut. */
export async function tusProxy(t: Ctx, target: string, cutAt: number, how: Cut): Promise<{ url: string; seen: Seen[]; cut: Promise<void> }> {
  const seen: Seen[] = [];
  let cutDone = false;
  let own = '';
  let onCut = (): void => undefined;
  const cut = new Promise<void>((resolve) => (onCut = resolve));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const s: Seen = { method: req.method ?? '', path: req.url ?? '/', sent: 0 };
    seen.push(s);
    // The page's own origin stands for the agent's, as behind any reverse proxy set up for the agent's public URL:
    // the devnet's pay button is refused from any other origin (src/http/dev-guard.ts).
    const headers = { ...req.headers, ...(req.headers.origin === own ? { origin: new URL(target).origin } : {}) };
    if (req.method === 'PATCH') s.from = Number(req.headers['upload-offset']);
    const up = request(`${target}${req.url ?? '/'}`, { method: req.method, headers }, (r) => {
      s.status = r.statusCode;
      if (req.method === 'HEAD' && r.statusCode === 200) s.offset = Number(r.headers['upload-offset']);
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => (how === 'drop' ? req.socket.destroy() : undefined));
    const cutThis = req.method === 'PATCH' && !cutDone;
    if (cutThis) cutDone = true;
    req.on('data', (d: Buffer) => {
      if (s.cut) return;
      if (cutThis && s.sent + d.length >= cutAt) {
        const part = d.subarray(0, cutAt - s.sent);
        s.sent += part.length;
        s.cut = true;
        up.write(part, () => {
          up.destroy();
          if (how === 'drop') req.socket.destroy();
          onCut();
        });
        return;
      }
      s.sent += d.length;
      up.write(d);
    });
    req.on('end', () => {
      if (!s.cut) up.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  own = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: own, seen, cut };
}
