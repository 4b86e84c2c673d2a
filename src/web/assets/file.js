// A shared file's page (/s/:fileId, with #key for an encrypted file): its name, size, state and how long it is
// funded, a download button, the QR code to top it up, and when a download would be refused, the amount that
// lets it through (GET /v1/files' downloadTopUpSat, the 402's amountSat).
import { $, element, envelope, loadE2e, ApiError, api, btc, bytesText, dateText, satText, showError, showQr, wireCopyButtons } from './common.js';

/** @typedef {import('./common.js').FileView} FileView */

const fileId = decodeURIComponent(location.pathname.split('/').pop() || '');
const key = location.hash.slice(1);
// The bytes come from /f/ on the agent, or on the separate origin set apart for them (config filesUrl).
const filesBase = document.documentElement.dataset.filesUrl || location.origin;
const bytesUrl = `${filesBase}/f/${encodeURIComponent(fileId)}`;

/**
 * The top-up URI: the file's own bip21, with the amount a refused download asks for when there is one.
 * @param {FileView} view
 */
function topUpUri(view) {
  if (view.downloadTopUpSat === undefined) return view.bip21;
  const query = view.bip21.includes('?') ? `&${view.bip21.split('?')[1] ?? ''}` : '';
  return `bitcoin:${view.address}?amount=${btc(view.downloadTopUpSat)}${query}`;
}

/** @param {FileView} view */
function showView(view) {
  $('info').hidden = false;
  $('size').textContent = `${bytesText(view.size)}${key ? ' (encrypted)' : ''}`;
  const state = $('state');
  state.textContent = view.state;
  state.className = `badge ${view.state}`;
  $('funded').textContent = dateText(view.fundedUntil);
  if (view.deleteAt) {
    $('delete-label').hidden = false;
    $('delete-at').hidden = false;
    $('delete-label').textContent = view.state === 'deleted' ? 'Deleted at' : 'Deleted after';
    $('delete-at').textContent = dateText(view.deleteAt);
  }
  const download = element('download', HTMLAnchorElement);
  if (view.state === 'deleted') {
    download.hidden = true;
    $('download-status').textContent = 'This file was deleted after its balance stayed negative past the grace period.';
    return;
  }
  if (view.downloadTopUpSat !== undefined) {
    const frozen = $('frozen');
    frozen.hidden = false;
    if (view.state !== 'frozen' && frozen.firstChild) frozen.firstChild.textContent = 'Its balance cannot pay for a whole download. Pay ';
    $('topup-sat').textContent = `${satText(view.downloadTopUpSat)} (${btc(view.downloadTopUpSat)} BTC)`;
  }
  $('topup').hidden = false;
  const uri = topUpUri(view);
  $('address').textContent = view.address;
  $('uri').textContent = uri;
  showQr(element('qr', HTMLImageElement), uri);
  download.href = bytesUrl;
  download.textContent = `Download${!key && view.filename ? ` ${view.filename}` : ''}`;
  let refused = view.downloadTopUpSat !== undefined;
  if (refused) download.classList.add('secondary');
  if (!key && view.filename) download.setAttribute('download', view.filename);
  if (key) download.removeAttribute('download');
  download.addEventListener('click', (event) => {
    // A plain download is the link itself, unless the agent would refuse it: then ask again first, so that a paid
    // top-up lets it through and an unpaid one shows the amount instead of the agent's 402.
    if (!key && !refused) return;
    event.preventDefault();
    (async () => {
      if (refused) {
        const now = /** @type {FileView} */ (await api('GET', `/v1/files/${encodeURIComponent(fileId)}`));
        refused = now.downloadTopUpSat !== undefined;
        if (now.downloadTopUpSat !== undefined) {
          $('topup-sat').textContent = `${satText(now.downloadTopUpSat)} (${btc(now.downloadTopUpSat)} BTC)`;
          throw new Error('The download needs the top-up first: pay the amount above to the file\'s address, then try again.');
        }
        download.classList.remove('secondary');
        $('frozen').hidden = true;
      }
      if (key) await decryptAndSave(download);
      else download.click();
    })().catch((/** @type {unknown} */ e) => {
      $('download-status').textContent = '';
      showError(e);
    });
  });
}

/**
 * Reads the bytes, decrypts them as they arrive with the key in the link (./e2e.js), and saves the plaintext.
 * @param {HTMLElement} button
 */
async function decryptAndSave(button) {
  showError(undefined);
  const status = $('download-status');
  status.textContent = 'Downloading and decrypting…';
  button.classList.add('busy');
  try {
    const e2e = await loadE2e();
    const r = await fetch(bytesUrl, { cache: 'no-store' });
    if (!r.ok) {
      const err = envelope(await r.json().catch(() => undefined));
      throw new ApiError(r.status, err ? err.code : `HTTP_${r.status}`, err ? err.message : `the agent answered ${r.status}`);
    }
    const plain = await e2e.decryptResponse(r, e2e.decodeKey(key));
    $('name').textContent = plain.name || 'A shared file';
    await e2e.saveStream(plain.name || 'download', plain.type || 'application/octet-stream', plain.stream, plain.size);
    status.textContent = `Decrypted ${plain.name || 'the file'} (${bytesText(plain.size)}).`;
  } finally {
    button.classList.remove('busy');
  }
}

async function start() {
  wireCopyButtons();
  if (key) $('encrypted-note').hidden = false;
  try {
    const view = /** @type {FileView} */ (await api('GET', `/v1/files/${encodeURIComponent(fileId)}`));
    $('name').textContent = key ? 'An encrypted file' : view.filename || 'A shared file';
    document.title = key ? 'An encrypted file' : view.filename || 'A shared file';
    showView(view);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      $('name').textContent = 'No such file';
      showError(new Error('There is no file at this link. It may be mistyped.'));
    } else showError(e);
  }
}

void start();
