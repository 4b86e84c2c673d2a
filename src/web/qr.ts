/**
 * QR codes as SVG, drawn on the agent so the pages need no encoder of their own. The matrix comes from the encoder
 * qrcode-terminal vendors (Kazuhiko Arase's QRCode for JavaScript, in its vendor/QRCode folder), the one the CLI
 * already draws its codes with (src/cli/render/ui.ts); this file only turns its modules into SVG rectangles.
 */
import { createRequire } from 'node:module';

/** The vendored encoder's surface that is used here (it ships no types of its own). */
interface QRCodeMatrix {
  addData(data: string): void;
  make(): void;
  getModuleCount(): number;
  isDark(row: number, col: number): boolean;
}
type QRCodeConstructor = new (typeNumber: number, errorCorrectLevel: number) => QRCodeMatrix;

let encoder: QRCodeConstructor | undefined;
/**
 * The encoder, loaded on the first code drawn: an agent that nobody asks for a QR code never loads it
 * (test/agent/idle-modules.test.ts). qrcode-terminal's main module only prints to a terminal; its encoder is
 * this CommonJS file.
 */
function qrCode(): QRCodeConstructor {
  encoder ??= createRequire(import.meta.url)('qrcode-terminal/vendor/QRCode/index.js') as QRCodeConstructor;
  return encoder;
}
/** Error correction level M (15% of the code can be lost), the encoder's numbering (vendor/QRCode/QRErrorCorrectLevel.js). */
const LEVEL_M = 0;
/** The quiet zone ISO/IEC 18004 asks around a code: four modules. */
const QUIET = 4;

/**
 * The QR code of `text` (printable ASCII: the encoder writes one byte per UTF-16 unit) as an SVG document: one
 * path of unit squares on a white square, scaled by the viewer.
 */
export function qrSvg(text: string): string {
  const QRCode = qrCode();
  const code = new QRCode(-1, LEVEL_M);
  code.addData(text);
  code.make();
  const n = code.getModuleCount();
  const size = n + 2 * QUIET;
  let path = '';
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      // Runs of dark modules in a row become one rectangle, which keeps the document small.
      if (!code.isDark(row, col) || (col > 0 && code.isDark(row, col - 1))) continue;
      let end = col;
      while (end + 1 < n && code.isDark(row, end + 1)) end++;
      path += `M${col + QUIET} ${row + QUIET}h${end - col + 1}v1h-${end - col + 1}z`;
    }
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">` +
    `<rect width="${size}" height="${size}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`
  );
}
