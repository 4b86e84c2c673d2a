// tus-js-client in Node resumes an upload across a kill -9 of the agent (a real `storj run` process), sending
// again only what the agent had not fsynced: a proxy in front of the agent, on a port that stays the same while
// the agent comes back on another, counts the PATCH bytes that reach each agent process and reads the offset
// the restarted one reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upload } from 'tus-js-client';
import { api, initTestDataDir, spawnAgent, startDevnet, tempDir, type AgentProcess, type Ctx } from '../helpers/agent.ts';
import { paidQuote } from '../helpers/paid.ts';
import { pattern, storeFiles } from './tus-helpers.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const CHUNK = 1024 * 1024;

/** A reverse proxy to `target()`, counting the PATCH body bytes it forwards to each target and the offsets HEADs return. */
async function countingProxy(t: Ctx, target: () => string) {
  const patchBytes = new Map<string, number>();
  const headOffsets: Array<{ target: string; offset: number }> = [];
  const listeners: Array<() => void> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const to = target();
    const up = request(`${to}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (r) => {
      if (req.method === 'HEAD' && r.statusCode === 200) headOffsets.push({ target: to, offset: Number(r.headers['upload-offset']) });
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      // The agent is down (killed, or not back yet): the client sees what it would without the proxy, a
      // connection that drops. (A 502 would be an answer, and tus-js-client answers a failed HEAD by creating
      // the upload again.)
      req.socket.destroy();
    });
    req.on('data', (d: Buffer) => {
      if (req.method !== 'PATCH') return;
      patchBytes.set(to, (patchBytes.get(to) ?? 0) + d.length);
      for (const l of listeners) l();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, patchBytes, headOffsets, onPatchData: (l: () => void) => listeners.push(l) };
}

test('tus-js-client resumes across a kill -9 of the agent, sending only what the agent had not fsynced', async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  let agent: AgentProcess = await spawnAgent(t, dataDir, devnet);
  let current = agent.url;
  const proxy = await countingProxy(t, () => current);

  const bytes = pattern(12 * CHUNK, 3);
  const q = await paidQuote(api(agent.url), { size: bytes.length });

  let killed: Promise<void> | undefined;
  const first = agent;
  proxy.onPatchData(() => {
    // Once the agent has taken more than half (several PATCHes answered, one in flight), kill -9 it and start it again.
    if (killed || (proxy.patchBytes.get(first.url) ?? 0) < bytes.length / 2 + CHUNK / 2) return;
    killed = (async () => {
      await first.kill9();
      agent = await spawnAgent(t, dataDir, devnet);
      current = agent.url;
    })();
  });

  const done = await new Promise<{ fileId: string; sha256: string }>((resolve, reject) => {
    const upload = new Upload(Buffer.from(bytes), {
      endpoint: `${proxy.url}/v1/tus`,
      chunkSize: CHUNK,
      retryDelays: [0, 200, 500, ...Array<number>(120).fill(500)],
      headers: { authorization: `Bearer ${q.uploadToken}` },
      metadata: { uploadId: q.id },
      storeFingerprintForResuming: false,
      onError: reject,
      onSuccess: ({ lastResponse }) => resolve({ fileId: lastResponse.getHeader('storj-file-id') ?? '', sha256: lastResponse.getHeader('storj-sha256') ?? '' }),
    });
    upload.start();
  });
  assert.ok(killed, 'the agent was killed during the upload');
  await killed;
  assert.notEqual(agent.url, first.url, 'a new agent process');

  // The restarted agent reported an offset: the last fsynced one, a whole number of answered PATCHes.
  const resumedAt = proxy.headOffsets.find((h) => h.target === agent.url)?.offset;
  assert.ok(resumedAt !== undefined, 'the client asked the restarted agent where to resume');
  assert.ok(resumedAt >= bytes.length / 2 && resumedAt < bytes.length, `resumed at ${resumedAt}`);
  assert.equal(resumedAt % CHUNK, 0, 'only whole PATCHes were fsynced and answered before the kill');
  const sentBefore = proxy.patchBytes.get(first.url) ?? 0;
  assert.ok(sentBefore > resumedAt, 'bytes past the fsynced offset were in flight when the agent died');
  assert.equal(proxy.patchBytes.get(agent.url), bytes.length - resumedAt, 'after the restart only the remainder was sent');

  assert.equal(done.sha256, sha256(bytes));
  const dl = await fetch(`${agent.url}/f/${done.fileId}`);
  assert.equal(dl.status, 200);
  assert.equal(sha256(new Uint8Array(await dl.arrayBuffer())), sha256(bytes));
  assert.deepEqual(storeFiles(dataDir, 'partial'), [], 'nothing partial left');
});
