/**
 * Paces V8's young-generation collections by the bytes of short-lived buffers an upload creates.
 *
 * Node hands every piece of a request body to JavaScript as a fresh Buffer (a copy out of the HTTP parser), so
 * an upload makes garbage as fast as it receives bytes. V8 counts those buffers' memory outside its heap and
 * only collects once tens of MB have piled up, in back-to-back full collections: measured with
 * `npm run bench -- upload rss`, that was +30 MB of resident memory and a third of the throughput. A scavenge
 * every few MB frees the dead buffers while they are still young, for a fraction of a millisecond each, and
 * a full collection every 256 MB frees the few that a scavenge caught still in flight.
 *
 * It needs `gc`, which node exposes with `--expose-gc` (as `npm start` and the `storj` command run it);
 * without it this does nothing and V8 is left to its own pace.
 */

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

/**
 * Bytes of body between two scavenges: the dead buffers that pile up meanwhile are most of what an upload adds to
 * the agent's resident memory (docs/memory.md, "The peak while moving a file": +12 MB at 8 MB, +9 at 4, +5 at 2).
 * A forced scavenge takes ~0.4 ms here (`--trace-gc`): at 4 MB no CPU cost was measurable, at 2 MB +0.15 s per GiB.
 */
const YOUNG_GC_EVERY_BYTES = 4 * 1024 * 1024;
/**
 * Young collections between two full ones. A scavenge promotes the few buffers still in flight, and with the
 * old space started at 40 MB (`--initial-old-space-size`, see README) V8 would leave them, and the 64 KB each
 * holds outside its heap, for a long while: +20 MB of resident memory over 10 GiB of uploads
 * (`npm run bench -- rss`). A full collection every 256 MB of body frees them. It takes ~45 ms on the agent's
 * heap (`--trace-gc`), so it is kept at 256 MB whatever the scavenges' pace: one every 32 scavenges of 2 MB
 * cost 0.6 s more CPU per GiB than one every 128.
 */
const FULL_GC_EVERY_YOUNG = 64;

const gc = (globalThis as { gc?: GcFunction }).gc;
let sinceLast = 0;
let youngSinceFull = 0;

/**
 * Counts `bytes` of buffers that die young (process-wide, all uploads together) and runs a young-generation
 * collection each time another 8 MB have gone by. Call it as each chunk arrives.
 */
export function noteShortLivedBytes(bytes: number): void {
  if (gc === undefined) return;
  sinceLast += bytes;
  if (sinceLast < YOUNG_GC_EVERY_BYTES) return;
  sinceLast = 0;
  gc({ type: 'minor' });
  if (++youngSinceFull < FULL_GC_EVERY_YOUNG) return;
  youngSinceFull = 0;
  gc({ type: 'major', execution: 'async' });
}
