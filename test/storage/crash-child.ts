// Spawned by fs-blob-store.test.ts to die mid-upload: starts a put from a source that stalls, says
// "progress" once part of the body is in, and waits to be killed with SIGKILL.
// Usage: node --import tsx test/storage/crash-child.ts <dir> <totalBytes> <chunkBytes>
import { FsBlobStore } from '../../src/storage/index.ts';
import { patternSource } from './helpers.ts';

const [dir, totalArg, chunkArg] = process.argv.slice(2);
if (dir === undefined || totalArg === undefined || chunkArg === undefined) {
  throw new Error('usage: crash-child.ts <dir> <totalBytes> <chunkBytes>');
}
const total = Number(totalArg);
const chunk = Number(chunkArg);
const store = new FsBlobStore({ dir });
let announced = false;
// Eight chunks, then the source goes quiet for good: the parent's SIGKILL lands mid-body whenever it comes.
const source = patternSource(total, chunk, undefined, 8);
await store.put(source, {
  expectedSize: total,
  onProgress: (bytes) => {
    if (!announced && bytes >= 4 * chunk) {
      announced = true;
      process.stdout.write('progress\n');
    }
  },
});
process.stdout.write('completed\n'); // the parent fails the test if it ever sees this
