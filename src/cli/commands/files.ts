/** `storj status` (a file, or an upload's payment) and `storj topup` (a file's top-up address, paid on the devnet). */
import { AgentError } from '../../errors/index.ts';
import { quoteAmountSat } from '../../host/index.ts';
import { formatBtc, msatToSatCeil, parseSat, satToJson } from '../../money/index.ts';
import { AgentApi, agentUrl, clean } from '../client/api.ts';
import { withAmount } from '../client/bip21.ts';
import { devPay } from '../client/devnet.ts';
import { ID, parseFile, parseInfo, parseUploadStatus, type AgentInfo, type FileStatus } from '../client/parse.ts';
import { fileJson, msatAsSat, showFile, showPayment } from '../render/text.ts';
import type { Ui } from '../render/ui.ts';

async function getFile(api: AgentApi, fileId: string): Promise<FileStatus> {
  const f = parseFile(await api.get(`/v1/files/${encodeURIComponent(fileId)}`));
  if (f.fileId !== fileId) throw new AgentError('AGENT_BAD_RESPONSE', `asked for file ${fileId}, the agent answered about ${f.fileId}`);
  return f;
}

function checkId(id: string, what: string): string {
  if (!ID.test(id)) throw new AgentError('BAD_REQUEST', `${clean(id)} is not ${what}`);
  return id;
}

export async function status(ui: Ui, id: string, o: { upload?: boolean; url?: string }): Promise<void> {
  const api = new AgentApi(agentUrl(o.url));
  if (o.upload) {
    const s = parseUploadStatus(await api.get(`/v1/uploads/${encodeURIComponent(checkId(id, 'an upload id'))}`));
    ui.say(`upload        ${s.id}`);
    ui.say(`state         ${s.state}`);
    ui.say(`payment       ${s.receivedSat} of ${s.amountSat} sat received, ${s.confirmedSat} confirmed`);
    const upload = { uploadId: s.id, state: s.state, amountSat: satToJson(s.amountSat), receivedSat: satToJson(s.receivedSat), confirmedSat: satToJson(s.confirmedSat) };
    if (!s.fileId) {
      // The agent names the file only to the holder of the upload token, which lived only in `storj upload`.
      if (s.state === 'complete') ui.say('file          uploaded; its link is the one `storj upload` printed');
      ui.emit({ upload });
      return;
    }
    const f = await getFile(api, s.fileId);
    ui.say();
    showFile(ui, f, api.base);
    ui.emit({ upload: { ...upload, fileId: s.fileId }, file: fileJson(f, api.base) });
    return;
  }
  const f = await getFile(api, checkId(id, 'a file id'));
  showFile(ui, f, api.base);
  ui.emit(fileJson(f, api.base));
}

/**
 * What to pay when no amount is given: the debt, if the balance is negative, plus what a fresh quote for this
 * file would ask (a day of storage and one download at today's prices, and at least the minimum deposit), by
 * the agent's own pricing function.
 */
export function suggestedTopUp(f: Pick<FileStatus, 'balanceMsat' | 'size'>, p: AgentInfo): { amountSat: bigint; debtSat: bigint } {
  const debtSat = f.balanceMsat < 0n ? msatToSatCeil(-f.balanceMsat) : 0n;
  // quoteAmountSat reads only the three prices GET /v1/info publishes; the fee rate is already inside the
  // minimum deposit, so none is needed here.
  const quote = quoteAmountSat(BigInt(f.size), 1n, 1n, { ...p, feeRateSatPerKvb: 0n });
  return { amountSat: debtSat + quote, debtSat };
}

export async function topup(ui: Ui, fileId: string, o: { amount?: string; pay?: boolean; url?: string }): Promise<void> {
  const amount = o.amount === undefined ? undefined : parseSat(o.amount.trim(), '--amount');
  if (amount === 0n) throw new AgentError('AMOUNT_INVALID', '--amount must be at least 1 sat');
  const api = new AgentApi(agentUrl(o.url));
  const f = await getFile(api, checkId(fileId, 'a file id'));
  if (f.state === 'deleted') throw new AgentError('FILE_DELETED', `file ${f.fileId} was deleted; a payment to ${f.address} would not bring it back`);
  const suggestion = suggestedTopUp(f, parseInfo(await api.get('/v1/info')));
  const uri = withAmount(f.bip21, amount);
  ui.say(`file ${f.fileId} is ${f.state}; balance ${f.balanceMsat} msat (${msatAsSat(f.balanceMsat)} sat), funded until ${f.fundedUntil}`);
  ui.say(
    `suggested top-up: ${suggestion.amountSat} sat (${suggestion.debtSat > 0n ? `clears the debt of ${suggestion.debtSat} sat and pays ` : 'pays '}a day of storage and one download at today's prices)`,
  );
  if (!o.pay) {
    ui.say(`Anyone can pay its address to keep it online${amount !== undefined ? `; ${amount} sat (${formatBtc(amount)} BTC)` : ''}:`);
    showPayment(ui, uri);
    ui.emit({ fileId: f.fileId, state: f.state, balanceMsat: f.balanceMsat.toString(), address: f.address, bip21: uri, ...(amount !== undefined ? { amountSat: satToJson(amount) } : {}), suggestedSat: satToJson(suggestion.amountSat) });
    return;
  }
  const paySat = amount ?? suggestion.amountSat;
  const txid = await devPay(api, f.address, paySat);
  const after = await getFile(api, f.fileId);
  ui.say(`paid ${paySat} sat from the devnet's miner (txid ${txid}) and mined a block`);
  ui.say(`file ${after.fileId} is ${after.state}; balance ${after.balanceMsat} msat (${msatAsSat(after.balanceMsat)} sat), funded until ${after.fundedUntil}`);
  ui.emit({ ...fileJson(after, api.base), paidSat: satToJson(paySat), txid });
}
