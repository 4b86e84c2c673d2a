// The pages' QR codes (src/web/qr.ts) draw the matrix of the encoder qrcode-terminal vendors, the one the CLI prints
// its codes with: the SVG's dark squares, read back, are exactly the modules that encoder gives for the same text
// at level M, in the same place (rows are rows, not columns), inside a four-module quiet zone. The encoder itself
// is qrcode-terminal's; what is checked here is the drawing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { qrSvg } from '../../src/web/qr.ts';

/** The dark modules of an SVG from qrSvg, as rows of booleans, and the quiet zone it leaves. */
function svgModules(svg: string): { rows: boolean[][]; quiet: number } {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  assert.ok(size > 0, 'a square viewBox');
  const d = /<path fill="#000" d="([^"]*)"/.exec(svg)?.[1] ?? '';
  const grid = Array.from({ length: size }, () => Array.from({ length: size }, () => false));
  let runs = 0;
  for (const m of d.matchAll(/M(\d+) (\d+)h(\d+)v1h-(\d+)z/g)) {
    const [x, y, w, back] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    assert.equal(back, w, 'each run is a closed rectangle one module high');
    for (let i = 0; i < w; i++) {
      const row = grid[y];
      assert.ok(row && row[x + i] === false, `module ${x + i},${y} drawn once`);
      row[x + i] = true;
    }
    runs++;
  }
  assert.equal(d, d.match(/M\d+ \d+h\d+v1h-\d+z/g)?.join(''), 'the path holds nothing but runs');
  assert.ok(runs > 0);
  // The quiet zone: rows and columns with no dark module around the code.
  let quiet = 0;
  while (grid[quiet]?.every((v) => !v) && grid.every((r) => !r[quiet])) quiet++;
  return { rows: grid.slice(quiet, size - quiet).map((r) => r.slice(quiet, size - quiet)), quiet };
}

interface Matrix {
  addData(data: string): void;
  make(): void;
  getModuleCount(): number;
  isDark(row: number, col: number): boolean;
}
const QRCode = createRequire(import.meta.url)('qrcode-terminal/vendor/QRCode/index.js') as new (type: number, level: number) => Matrix;

/**
 * The modules the vendored encoder gives for `text` at level M (0 in its numbering). Not through qrcode-terminal's
 * own setErrorLevel('M'), which cannot set it: M is 0 there, and `QRErrorCorrectLevel[error] || this.error` keeps L.
 */
function encoderModules(text: string): boolean[][] {
  const code = new QRCode(-1, 0);
  code.addData(text);
  code.make();
  const n = code.getModuleCount();
  return Array.from({ length: n }, (_, row) => Array.from({ length: n }, (_, col) => code.isDark(row, col)));
}

test('the SVG QR code is the vendored encoder\'s matrix at level M, module for module, with a quiet zone of four', () => {
  for (const text of [
    'bitcoin:bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080?amount=0.00012345&label=storj+upload+u9Dv7Voz2-tPOt_BjORSvg',
    'bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
    `bitcoin:tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx?amount=21000000.00000000&label=${'x'.repeat(300)}`,
  ]) {
    const { rows, quiet } = svgModules(qrSvg(text));
    const expected = encoderModules(text);
    assert.equal(quiet, 4, 'four modules of quiet zone');
    assert.equal(rows.length, expected.length, 'the same version (size)');
    assert.ok(expected.every((r) => r.length === expected.length), 'a square matrix');
    assert.deepEqual(rows, expected, text.slice(0, 40));
  }
});
