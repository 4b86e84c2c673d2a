/**
 * Storage: content-addressed blobs. The host layer decides what a file is, who pays for it and
 * when nothing references a blob any more; this folder only keeps bytes under their sha256.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
export type { BlobInfo, BlobReader, BlobStore, PutOptions } from './types.ts';
export { copyBlob } from './copy.ts';
export { FsBlobStore } from './fs-blob-store.ts';
