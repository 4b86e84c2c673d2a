/** The human output the customer commands share: amounts, payment URIs with their QR code, a file's status. */
import { formatBtc, MSAT_PER_SAT, msatToSatCeil, satToJson } from '../../money/index.ts';
import type { RemoteError } from '../client/api.ts';
import { paymentUri } from '../client/bip21.ts';
import { paymentDemand, type FileStatus, type UploadStatus } from '../client/parse.ts';
import { qr, type Ui } from './ui.ts';

/** Millisatoshis as satoshis with up to three decimals, exactly ("-12.345"). */
export function msatAsSat(msat: bigint): string {
  const neg = msat < 0n;
  const abs = neg ? -msat : msat;
  const frac = (abs % MSAT_PER_SAT).toString().padStart(3, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / MSAT_PER_SAT}${frac ? `.${frac}` : ''}`;
}

/** A payment URI, then its QR code, for any wallet to pay. */
export function showPayment(ui: Ui, uri: string): void {
  ui.say(`  ${uri}`);
  ui.say();
  ui.say(qr(uri));
  ui.say();
}

export function paymentText(s: UploadStatus): string {
  const expired = s.state === 'expired' ? ' (the quote expired: the amount is now at current prices)' : '';
  return `waiting for payment: ${s.receivedSat} of ${s.amountSat} sat received, ${s.confirmedSat} confirmed${expired}`;
}

/** A file's status as the --json line shows it: the API's fields, the balance in whole sat too, and the link. */
export function fileJson(f: FileStatus, base: string): Record<string, unknown> {
  return {
    fileId: f.fileId,
    state: f.state,
    size: f.size,
    sha256: f.sha256,
    filename: f.filename,
    contentType: f.contentType,
    balanceMsat: f.balanceMsat.toString(),
    balanceSat: satToJson(f.balanceMsat >= 0n ? f.balanceMsat / MSAT_PER_SAT : -msatToSatCeil(-f.balanceMsat)),
    address: f.address,
    bip21: f.bip21,
    fundedUntil: f.fundedUntil,
    ...(f.deleteAt ? { deleteAt: f.deleteAt } : {}),
    url: `${base}/f/${f.fileId}`,
  };
}

export function showFile(ui: Ui, f: FileStatus, base: string): void {
  ui.say(`file          ${f.fileId}${f.filename ? `  ${f.filename}` : ''} (${f.size} bytes${f.contentType ? `, ${f.contentType}` : ''})`);
  ui.say(`state         ${f.state}`);
  ui.say(`balance       ${f.balanceMsat} msat (${msatAsSat(f.balanceMsat)} sat)`);
  ui.say(`funded until  ${f.fundedUntil}`);
  if (f.deleteAt) ui.say(`deleted at    ${f.deleteAt} unless topped up`);
  ui.say(`top-up        ${f.address}`);
  ui.say(`sha256        ${f.sha256}`);
  if (f.state !== 'deleted') ui.say(`link          ${base}/f/${f.fileId}`);
}

/** What a 402 to a download asks for: the top-up address and amount, as a URI and QR code. */
export function showDemand(ui: Ui, e: RemoteError, fileId: string | undefined): void {
  const d = paymentDemand(e);
  if (!d) return;
  const uri = d.bip21 ?? paymentUri(d.address, d.amountSat);
  ui.say(e.code === 'FILE_FROZEN' ? "This file's balance is negative, so it is frozen." : "This file's balance cannot cover this download.");
  ui.say(`Top up: pay ${d.amountSat} sat (${formatBtc(d.amountSat)} BTC) to ${d.address}:`);
  showPayment(ui, uri);
  if (fileId) ui.say(`then \`storj download\` again (\`storj status ${fileId}\` shows the balance)`);
}
