// The page's price as the customer types (src/web/assets/price.js, in the browser's JavaScript) is the agent's
// quote rule (src/host/pricing.ts quoteAmountSat) for every size, days, downloads and prices: two spellings of one
// rule, held equal here. The page's own test (./pages.test.ts) also checks the estimate against a real quote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import fc from 'fast-check';
import { quoteAmountSat } from '../../src/host/index.ts';

interface PriceModule {
  estimateSat: (size: number, days: number, downloads: number, prices: { storageMsatPerGibDay: string; egressMsatPerGib: string; minimumDepositSat: number }) => bigint;
}

// A browser module outside the TypeScript project, loaded by its URL.
const priceJs = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'web', 'assets', 'price.js')).href;

test("the page's estimate equals the quote's amountSat for any file, days, downloads and prices", async () => {
  const { estimateSat } = (await import(priceJs)) as PriceModule;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 42 }),
      fc.integer({ min: 1, max: 36_500 }),
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.bigInt({ min: 0n, max: 10n ** 12n }),
      fc.bigInt({ min: 0n, max: 10n ** 12n }),
      fc.bigInt({ min: 0n, max: 10n ** 6n }),
      (size, days, downloads, storage, egress, minimum) => {
        const expected = quoteAmountSat(BigInt(size), BigInt(days), BigInt(downloads), { storageMsatPerGibDay: storage, egressMsatPerGib: egress, minimumDepositSat: minimum, feeRateSatPerKvb: 1000n });
        // As GET /v1/info gives them: msat as decimal strings, the minimum deposit as a JSON integer.
        const shown = estimateSat(size, days, downloads, { storageMsatPerGibDay: storage.toString(), egressMsatPerGib: egress.toString(), minimumDepositSat: Number(minimum) });
        assert.equal(shown, expected);
      },
    ),
    { numRuns: 2000 },
  );
  // Boundaries: one byte, the rounding of a GiB, and the minimum deposit winning or not.
  const p = { storageMsatPerGibDay: 1000n, egressMsatPerGib: 999n, minimumDepositSat: 294n, feeRateSatPerKvb: 1000n };
  for (const [size, days, downloads] of [[1, 1, 1], [2 ** 30, 1, 1], [2 ** 30 + 1, 7, 3], [5 * 2 ** 40, 365, 10]] as const) {
    const shown = estimateSat(size, days, downloads, { storageMsatPerGibDay: '1000', egressMsatPerGib: '999', minimumDepositSat: 294 });
    assert.equal(shown, quoteAmountSat(BigInt(size), BigInt(days), BigInt(downloads), p), `${size} bytes, ${days} days, ${downloads} downloads`);
  }
});
