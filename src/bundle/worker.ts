/**
 * The code bundle's builder, run by ./apart.ts as a short-lived process of its own: `worker.ts ROOT` builds the
 * bundle of the tree at ROOT (./make.ts), sends the bytes to the agent over IPC, base64 in one message, and
 * ends. It ends too if the agent is gone (watchParent).
 */
import { isAgentError } from '../errors/index.ts';
import { runMain, watchParent } from '../process/index.ts';
import { buildBundle } from './make.ts';

/** What the worker sends: the bundle's bytes, or why the tree could not be bundled. */
export type BundleReply = { ok: true; bytes: string } | { ok: false; code: string; message: string };

function send(reply: BundleReply): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) throw new Error('the bundle worker runs with an IPC channel to the agent (src/bundle/apart.ts)');
    process.send(reply, undefined, {}, (e: Error | null) => (e ? reject(e) : resolve()));
  });
}

watchParent();
runMain(async () => {
  const root = process.argv[2];
  if (root === undefined) throw new Error('usage: worker ROOT');
  try {
    const { bytes } = await buildBundle(root);
    await send({ ok: true, bytes: bytes.toString('base64') });
  } catch (e) {
    // A tree that cannot be bundled is the agent's error to report; anything else is printed and exits 1.
    if (!isAgentError(e)) throw e;
    await send({ ok: false, code: e.code, message: e.message });
  }
  return 0;
});
