/**
 * How the customer commands talk to a person: results on stdout; live status and progress bars on stderr, so a
 * pipe of stdout gets only results. With --json there is none of it, only JSON lines on stdout. A terminal gets
 * bars and a one-line status that updates in place; a pipe or a log gets plain lines, printed when they change.
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import type QrcodeTerminal from 'qrcode-terminal';

// cli-progress and qrcode-terminal are loaded at their first use, not with this file: `storj run` registers the
// customer's commands too, and the agent it starts must not carry either (docs/memory.md).
const require = createRequire(import.meta.url);
const cliProgress = (): typeof CliProgress => require('cli-progress') as typeof CliProgress;
const qrcode = (): typeof QrcodeTerminal => require('qrcode-terminal') as typeof QrcodeTerminal;

export interface Ui {
  readonly json: boolean;
  /** stderr is a terminal: bars and in-place status. */
  readonly tty: boolean;
  /** A line of human output (nothing with --json). */
  say(line?: string): void;
  /** One JSON line on stdout (only with --json); bigints become strings, as no JSON number holds them safely. */
  emit(data: Record<string, unknown>): void;
  /** Transient progress text on stderr. */
  note(line: string): void;
}

export function makeUi(json: boolean, tty = process.stderr.isTTY === true): Ui {
  return {
    json,
    tty,
    say: (line = '') => {
      if (!json) process.stdout.write(`${line}\n`);
    },
    emit: (data) => {
      if (json) process.stdout.write(`${JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    },
    note: (line) => {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
}

/** A QR code of `text` drawn with half-block characters (qrcode-terminal's small mode: two rows per line). */
export function qr(text: string): string {
  let out = '';
  // generate() calls back synchronously.
  qrcode().generate(text, { small: true }, (q) => (out = q));
  return out.replace(/\n+$/, '');
}

interface Progress {
  update(bytes: number): void;
  stop(): void;
}

/** A byte progress bar: cli-progress on a terminal; otherwise a line at each quarter, so a log shows it moving. */
export function progress(ui: Ui, label: string, total: number | undefined): Progress {
  if (ui.json) return { update: () => undefined, stop: () => undefined };
  if (ui.tty) {
    const bars = cliProgress();
    const bar = new bars.SingleBar(
      {
        stream: process.stderr,
        format: total === undefined ? `${label} {value} bytes | {duration_formatted}` : `${label} [{bar}] {percentage}% | {value}/{total} bytes | ETA {eta_formatted}`,
        hideCursor: true,
      },
      bars.Presets.shades_classic,
    );
    bar.start(total ?? 0, 0);
    let stopped = false;
    return {
      update: (n) => bar.update(n),
      stop: () => {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  }
  let shown = 0;
  let last = 0;
  ui.note(`${label}: 0${total === undefined ? '' : ` of ${total}`} bytes`);
  return {
    update: (n) => {
      last = n;
      if (total === undefined || total === 0) return;
      const quarter = Math.floor((n * 4) / total);
      if (quarter > shown && quarter < 4) {
        shown = quarter;
        ui.note(`${label}: ${quarter * 25}% (${n} of ${total} bytes)`);
      }
    },
    stop: () => {
      if (shown < 4) ui.note(`${label}: ${last}${total === undefined ? '' : ` of ${total}`} bytes`);
      shown = 4;
    },
  };
}

/** A status that changes over time: rewritten in place on a terminal, a new line per change otherwise. */
export class StatusLine {
  readonly #ui: Ui;
  #last = '';
  #open = false;

  constructor(ui: Ui) {
    this.#ui = ui;
  }

  /** `text` is what is compared for a change; `live` (time waited, say) only decorates it on a terminal. */
  show(text: string, live = ''): void {
    if (this.#ui.json) return;
    if (this.#ui.tty) {
      process.stderr.write(`\r\x1b[2K${text}${live}`);
      this.#open = true;
    } else if (text !== this.#last) {
      process.stderr.write(`${text}\n`);
    }
    this.#last = text;
  }

  end(): void {
    if (this.#open) process.stderr.write('\n');
    this.#open = false;
  }
}

/**
 * Runs `onSigint` (which should say how to come back) on Ctrl-C, then exits 130 as shells expect. When
 * `confirm` returns a warning, the first Ctrl-C only prints it and the second one leaves.
 * Returns the function that removes the handler again.
 */
export function onInterrupt(onSigint: () => string | Promise<string>, confirm?: () => string | undefined): () => void {
  let warned = false;
  const handler = () => {
    const warning = warned ? undefined : confirm?.();
    if (warning !== undefined) {
      warned = true;
      process.stderr.write(`\n${warning}\n`);
      return;
    }
    process.off('SIGINT', handler);
    void Promise.resolve()
      .then(onSigint)
      .then(
        (msg) => process.stderr.write(`\n${msg}\n`),
        () => undefined,
      )
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}
