/**
 * The code bundle built in a short-lived process of its own (./worker.ts) rather than in the agent: reading the
 * whole source tree and compressing it left about 2 MiB more in the agent's malloc heap for good (freed, but not
 * given back to the system); the worker hands it all back when it ends (docs/memory.md, "The bundle"). The agent
 * keeps the compressed bytes, as before, and hashes them itself.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AgentError } from '../errors/index.ts';
import { startWorker } from '../process/index.ts';
import type { Bundle } from './make.ts';
import type { BundleReply } from './worker.ts';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = fileURLToPath(new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url));

/**
 * Builds the bundle of the tree at `root`, as `buildBundle` does, in a worker process.
 * @throws AgentError BUNDLE_INVALID (the tree, as `buildBundle` says), INTERNAL when the worker dies without an answer
 */
export function buildBundleApart(root: string): Promise<Bundle> {
  const worker = startWorker(WORKER_ENTRY, [root]);
  const { child } = worker;
  // startWorker leaves a worker unref'd; this one is waited for.
  child.ref();
  child.channel?.ref();
  return new Promise((resolve, reject) => {
    let reply: BundleReply | undefined;
    child.once('message', (m: BundleReply) => {
      reply = m;
    });
    child.once('error', (e) => reject(new AgentError('INTERNAL', `the code bundle's worker could not start: ${e.message}`)));
    child.once('exit', (code, signal) => {
      if (reply?.ok === true) {
        const bytes = Buffer.from(reply.bytes, 'base64');
        resolve({ bytes, codeHash: createHash('sha256').update(bytes).digest('hex') });
      } else if (reply?.ok === false) {
        reject(new AgentError(reply.code === 'BUNDLE_INVALID' ? 'BUNDLE_INVALID' : 'INTERNAL', reply.message));
      } else {
        reject(new AgentError('INTERNAL', `the code bundle's worker ended (${signal ?? String(code)}) without a bundle: ${worker.stderrTail().trim().slice(-400)}`));
      }
    });
  });
}
