/**
 * A parser for every answer of the agent: each field is checked before anything is shown or acted on, since the
 * agent at the other end may be anyone's (a QR code of someone else's address is the one thing a customer cannot
 * check by eye).
 */
import { parseMsat } from '../../money/index.ts';
import type { UploadStatus } from '../../host/index.ts';
import { AgentError } from '../../errors/index.ts';
import { badResponse, clean, isRecord, type RemoteError } from './api.ts';
import { bip21Address } from './bip21.ts';

export type { UploadStatus } from '../../host/index.ts';

/** The form of an upload id and a file id. */
export const ID = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
export const ADDRESS = /^[A-Za-z0-9]{14,90}$/;

export function record(v: unknown, what: string): Record<string, unknown> {
  if (!isRecord(v)) throw badResponse(`${what}: the agent's answer is not a JSON object`);
  return v;
}
export function str(o: Record<string, unknown>, k: string, what: string, re?: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || (re && !re.test(v))) throw badResponse(`${what}: "${k}" is missing or malformed`);
  return v;
}
function strOrNull(o: Record<string, unknown>, k: string, what: string): string | null {
  return o[k] === null || o[k] === undefined ? null : clean(str(o, k, what));
}
export function sat(o: Record<string, unknown>, k: string, what: string): bigint {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badResponse(`${what}: "${k}" is not a whole number of satoshis`);
  return BigInt(v);
}
function size(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badResponse(`${what}: "${k}" is not a size in bytes`);
  return v;
}
export function oneOf<T extends string>(o: Record<string, unknown>, k: string, what: string, values: readonly T[]): T {
  const v = o[k];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw badResponse(`${what}: "${k}" is not one of ${values.join(', ')}`);
  return v as T;
}
export function bip21(o: Record<string, unknown>, k: string, what: string, address: string): string {
  const v = str(o, k, what);
  // A QR code of someone else's address is the one thing the customer cannot check by eye: it must be the address shown.
  if (bip21Address(v)?.toLowerCase() !== address.toLowerCase()) throw badResponse(`${what}: "${k}" is not a BIP21 URI for ${address}`);
  return v;
}
export function httpUrl(o: Record<string, unknown>, k: string, what: string): string {
  const v = str(o, k, what);
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.toString();
  } catch {
    // reported below
  }
  throw badResponse(`${what}: "${k}" is not an http(s) URL`);
}

export interface Quote {
  id: string;
  address: string;
  amountSat: bigint;
  bip21: string;
  expiresAt: string;
  uploadToken: string;
}
export function parseQuote(v: unknown): Quote {
  const w = 'quote';
  const o = record(v, w);
  const address = str(o, 'address', w, ADDRESS);
  return { id: str(o, 'id', w, ID), address, amountSat: sat(o, 'amountSat', w), bip21: bip21(o, 'bip21', w, address), expiresAt: clean(str(o, 'expiresAt', w)), uploadToken: str(o, 'uploadToken', w, /^[\x21-\x7e]{1,512}$/) };
}

// The agent's own type: the wire form (JSON numbers) is parsed into exactly this.
export function parseUploadStatus(v: unknown): UploadStatus {
  const w = 'upload status';
  const o = record(v, w);
  return {
    id: str(o, 'id', w, ID),
    state: oneOf(o, 'state', w, ['awaiting_payment', 'paid', 'complete', 'expired'] as const),
    amountSat: sat(o, 'amountSat', w),
    receivedSat: sat(o, 'receivedSat', w),
    confirmedSat: sat(o, 'confirmedSat', w),
    ...(o.fileId !== undefined ? { fileId: str(o, 'fileId', w, ID) } : {}),
  };
}

export interface Stored {
  fileId: string;
  url: string;
  size: number;
  sha256: string;
}
export function parseStored(v: unknown): Stored {
  const w = 'upload';
  const o = record(v, w);
  return { fileId: str(o, 'fileId', w, ID), url: httpUrl(o, 'url', w), size: size(o, 'size', w), sha256: str(o, 'sha256', w, SHA256) };
}

export interface FileStatus {
  fileId: string;
  size: number;
  sha256: string;
  filename: string | null;
  contentType: string | null;
  state: 'active' | 'frozen' | 'deleted';
  balanceMsat: bigint;
  address: string;
  bip21: string;
  fundedUntil: string;
  deleteAt?: string;
}
export function parseFile(v: unknown): FileStatus {
  const w = 'file status';
  const o = record(v, w);
  const address = str(o, 'address', w, ADDRESS);
  let balanceMsat: bigint;
  try {
    balanceMsat = parseMsat(o.balanceMsat, 'balanceMsat');
  } catch {
    throw badResponse(`${w}: "balanceMsat" is not a decimal string of millisatoshis`);
  }
  return {
    fileId: str(o, 'fileId', w, ID),
    size: size(o, 'size', w),
    sha256: str(o, 'sha256', w, SHA256),
    filename: strOrNull(o, 'filename', w),
    contentType: strOrNull(o, 'contentType', w),
    state: oneOf(o, 'state', w, ['active', 'frozen', 'deleted'] as const),
    balanceMsat,
    address,
    bip21: bip21(o, 'bip21', w, address),
    fundedUntil: clean(str(o, 'fundedUntil', w)),
    ...(o.deleteAt !== undefined ? { deleteAt: clean(str(o, 'deleteAt', w)) } : {}),
  };
}

export interface AgentInfo {
  network: string;
  storageMsatPerGibDay: bigint;
  egressMsatPerGib: bigint;
  minimumDepositSat: bigint;
}
export function parseInfo(v: unknown): AgentInfo {
  const w = 'info';
  const o = record(v, w);
  const p = record(o.prices, w);
  try {
    return {
      network: clean(str(o, 'network', w)),
      storageMsatPerGibDay: parseMsat(p.storageMsatPerGibDay, 'storageMsatPerGibDay'),
      egressMsatPerGib: parseMsat(p.egressMsatPerGib, 'egressMsatPerGib'),
      minimumDepositSat: sat(p, 'minimumDepositSat', w),
    };
  } catch (e) {
    if (e instanceof AgentError && e.code === 'AGENT_BAD_RESPONSE') throw e;
    throw badResponse(`${w}: the prices are malformed`);
  }
}

/** What a 402 asks for (an upload not yet paid, a frozen file, a balance too low), when its body says it. */
interface PaymentDemand {
  address: string;
  amountSat: bigint;
  bip21?: string;
}
export function paymentDemand(e: RemoteError): PaymentDemand | undefined {
  if (e.status !== 402) return undefined;
  try {
    const address = str(e.body, 'address', '402', ADDRESS);
    return { address, amountSat: sat(e.body, 'amountSat', '402'), ...(e.body.bip21 !== undefined ? { bip21: bip21(e.body, 'bip21', '402', address) } : {}) };
  } catch {
    return undefined;
  }
}

export function parseTxid(v: unknown): string {
  return str(record(v, 'devnet payment'), 'txid', 'devnet payment', /^[0-9a-f]{64}$/);
}
