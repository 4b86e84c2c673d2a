/**
 * End-to-end encryption of customers' files (docs/encryption.md): the client encrypts before upload and
 * decrypts after download, and the key lives only in the link's #fragment, so the agent stores and serves bytes
 * it cannot read. Used by the CLI (`storj upload --encrypt`, `storj download LINK#KEY`); the agent itself never
 * loads this module.
 */
import './errors.ts';

export { ciphertextSize, PREFIX_BYTES, type Metadata } from './format.ts';
export { decrypt, decryptStream, encrypt, encryptStream } from './stream.ts';
export { SliceEncryptor } from './slices.ts';
export { decodeKey, encodeKey, newKey, shareLink, splitLink } from './link.ts';
