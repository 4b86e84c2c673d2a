/** The customer's commands: upload, download, status and topup. They speak only the agent's public HTTP API. */
import type { Command } from 'commander';
import { makeUi } from '../render/ui.ts';
import type { download as Download } from './download.ts';
import type { status as Status, topup as Topup } from './files.ts';
import type { upload as Upload } from './upload.ts';

// Each command's code is loaded when it runs, so the other commands (`storj run` above all) do not carry it
// (docs/memory.md).
const upload = async (...a: Parameters<typeof Upload>) => (await import('./upload.ts')).upload(...a);
const download = async (...a: Parameters<typeof Download>) => (await import('./download.ts')).download(...a);
const status = async (...a: Parameters<typeof Status>) => (await import('./files.ts')).status(...a);
const topup = async (...a: Parameters<typeof Topup>) => (await import('./files.ts')).topup(...a);

/** Adds upload, download, status and topup to `program`; `json` reads the global --json flag. */
export function registerCustomerCommands(program: Command, opts: { json: () => boolean }): void {
  const urlHelp = 'the agent (default: STORJ_URL, else http://STORJ_LISTEN, else http://127.0.0.1:8420)';
  program
    .command('upload')
    .description('quote, wait for the payment (showing a bitcoin: URI and its QR code), upload, and print the link')
    .argument('<file>')
    .option('--days <n>', 'days of storage to prepay (default 1)')
    .option('--downloads <n>', 'full downloads to prepay (default 1)')
    .option('--url <agentUrl>', urlHelp)
    .option('--pay', "devnet only: pay from the devnet's miner and confirm, so the whole upload is one command")
    .option('--encrypt', "encrypt the file before it leaves this machine; the key is only in the printed link, after '#'")
    .action((file: string, o: { days?: string; downloads?: string; url?: string; pay?: boolean; encrypt?: boolean }) => upload(makeUi(opts.json()), file, o));
  program
    .command('download')
    .description("download a link (or a file id, with --url), checking its sha256 against the ETag; a link's #key decrypts it")
    .argument('<link>', 'http(s)://AGENT/s/FILE_ID[#KEY] or .../f/FILE_ID[#KEY], or a bare FILE_ID[#KEY]')
    .option('-o, --output <path>', 'where to save (a file or a directory; default: the name the agent gives, else the file id)')
    .option('--url <agentUrl>', urlHelp)
    .action((link: string, o: { output?: string; url?: string }) => download(makeUi(opts.json()), link, o));
  program
    .command('status')
    .description("a file's state, balance, funded-until date and top-up address")
    .argument('<id>', 'a file id (or an upload id with --upload)')
    .option('--upload', 'ID is an upload id: show its payment, and its file once uploaded')
    .option('--url <agentUrl>', urlHelp)
    .action((id: string, o: { upload?: boolean; url?: string }) => status(makeUi(opts.json()), id, o));
  program
    .command('topup')
    .description("show a file's top-up address as a bitcoin: URI and QR code (anyone may pay it)")
    .argument('<fileId>')
    .option('--amount <sat>', 'amount in satoshis to put in the URI (and to pay with --pay)')
    .option('--pay', "devnet only: pay it from the devnet's miner (default amount: the suggested top-up) and confirm")
    .option('--url <agentUrl>', urlHelp)
    .action((fileId: string, o: { amount?: string; pay?: boolean; url?: string }) => topup(makeUi(opts.json()), fileId, o));
}
