/**
 * BIP21 payment URIs (`bitcoin:<address>?amount=<btc>&label=...`), through bitcoinjs's `bip21`: the agent's
 * URIs are decoded to check whose address they pay, and re-encoded with the amount a customer chose.
 */
import { decode, encode } from 'bip21';
import { formatBtc } from '../../money/index.ts';

/**
 * BIP21's amount is a decimal number of BTC. `bip21` types it as a JS number, but a number prints 1 sat as
 * "1e-8", which no wallet reads; its query-string writer passes a string through as it is, so the exact string
 * from formatBtc goes in, typed here as what `encode` really accepts.
 */
const encodeUri = encode as (address: string, options: Record<string, unknown>) => string;

/**
 * The address a BIP21 URI pays, or undefined when `uri` is not one: only the characters a URI needs (so no
 * terminal escape reaches the screen or the QR code), the `bitcoin:` scheme, and an amount that is a number.
 */
export function bip21Address(uri: string): string | undefined {
  if (!/^bitcoin:[A-Za-z0-9]+(\?[A-Za-z0-9%._~+=&-]*)?$/i.test(uri)) return undefined;
  try {
    return decode(uri).address;
  } catch {
    return undefined;
  }
}

/**
 * `uri` (the agent's, already checked with bip21Address) asking for `amountSat`; its other parameters (the
 * agent's label) stay. Without an amount, the agent's URI is shown as the agent wrote it.
 */
export function withAmount(uri: string, amountSat: bigint | undefined): string {
  if (amountSat === undefined || amountSat <= 0n) return uri;
  const { address, options } = decode(uri);
  return encodeUri(address, { ...options, amount: formatBtc(amountSat) });
}

/** A URI for `address` and `amountSat`, for a 402 whose body carries no URI of its own. */
export function paymentUri(address: string, amountSat: bigint): string {
  return encodeUri(address, { amount: formatBtc(amountSat) });
}
