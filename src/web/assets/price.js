// The price of an upload as the page shows it while the customer types, from GET /v1/info's prices. The agent's
// rule is src/host/pricing.ts quoteAmountSat (storage per day and egress per download, each rounded up to the msat,
// the sum rounded up to the satoshi, never below the minimum deposit); this is the same integer arithmetic in
// BigInt. The quote's amountSat (POST /v1/uploads) is what is paid; test/web/price.test.ts holds the two equal.

const GIB = 1073741824n;
const MSAT_PER_SAT = 1000n;
/**
 * @param {bigint} a
 * @param {bigint} b
 */
const ceilDiv = (a, b) => (a + b - 1n) / b;

/**
 * What `days` of storage and `downloads` full downloads of a `size`-byte file cost, in satoshis, at `prices`
 * (GET /v1/info's `prices`: msat amounts as decimal strings, minimumDepositSat an integer).
 * @param {number} size
 * @param {number} days
 * @param {number} downloads
 * @param {{ storageMsatPerGibDay: string, egressMsatPerGib: string, minimumDepositSat: number }} prices
 * @returns {bigint}
 */
export function estimateSat(size, days, downloads, prices) {
  const bytes = BigInt(size);
  const storageMsat = ceilDiv(bytes * BigInt(prices.storageMsatPerGibDay), GIB) * BigInt(days);
  const egressMsat = ceilDiv(bytes * BigInt(prices.egressMsatPerGib), GIB) * BigInt(downloads);
  const service = ceilDiv(storageMsat + egressMsat, MSAT_PER_SAT);
  const minimum = BigInt(prices.minimumDepositSat);
  return service > minimum ? service : minimum;
}
