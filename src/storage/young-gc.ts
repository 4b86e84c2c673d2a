/**
 * Paces V8's young-generation collections by the bytes of short-lived buffers an upload creates.
 *
 * Node hands every piece of a request body to JavaScript as a fresh Buffer (a copy out of the HTTP parser), so
 * an upload makes garbage as fast as it receives bytes. V8 counts those buffers' memory outside its heap and
 * only collects once tens of MB have piled up, in back-to-back full collections: measured with
 * `npm run bench -- upload rss`, that was +30 MB of resident memory and a third of the throughput. A scavenge
 * every few MB frees the dead buffers while they are still young, for a fraction of a millisecond each, and
 * a concurrent full collection every 32 of them frees the few that a scavenge caught still in flight.
 *
 * It needs `gc`, which node exposes with `--expose-gc` (as `npm start` and the `storj` command run it);
 * without it this does nothing and V8 is left to its own pace.
 */

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

/** Bytes of body between two collections: a few MB of garbage at most, a scavenge per ~10 ms at line rate. */
const YOUNG_GC_EVERY_BYTES = 8 * 1024 * 1024;
/**
 * Young collections between two full ones. A scavenge promotes the few buffers still in flight, and with the
 * old space started at 40 MB (`--initial-old-space-size`, see README) V8 would leave them, and the 64 KB each
 * holds outside its heap, for a long while: +20 MB of resident memory over 10 GiB of uploads
 * (`npm run bench -- rss`). A concurrent full collection every 256 MB of body frees them for a few ms of work.
 */
const FULL_GC_EVERY_YOUNG = 32;

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
