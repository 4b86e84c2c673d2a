/**
 * How many open quotes one client may hold (docs/payments.md, "Bounded quotes"). A quote is free to ask for, yet
 * it costs the agent an address, rows, and a place among the addresses the payment watcher polls in the
 * mempool, so each client holds at most `max` open quotes at once. A slot is taken before the quote is made
 * (so concurrent requests cannot overshoot) and given back when the quote cannot be made; it frees itself when
 * the quote expires, or when the quote is no longer open (its file has its bytes), which is checked only for a
 * client at its limit, at most `max` lookups.
 *
 * The slots live in memory: a restart forgets them, which at worst lets a client open one more full set of
 * quotes. Every slot also sits in one queue in the order quotes were made, whose head is where the earliest
 * expiry is, so expired slots are dropped in amortised constant time per quote, and a client whose slots have
 * all expired is forgotten: the memory held follows the quotes open, not every client ever seen.
 */
import { isIPv6 } from 'node:net';
import { AgentError } from '../errors/index.ts';

interface Slot {
  client: string;
  /** The quote it holds, once made. */
  uploadId: string | undefined;
  /** Unix ms; Infinity while the quote is being made. */
  expiresAt: number;
}

/**
 * The client key of an address as `request.ip` gives it: an IPv4 address as it is (an IPv4-mapped IPv6 one
 * included), an IPv6 address by its /64, since one host usually holds a whole /64.
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export class QuoteSlots {
  readonly #max: number;
  readonly #isOpen: (uploadId: string) => boolean;
  readonly #byClient = new Map<string, Slot[]>();
  /** Made slots in the order their quotes were made, which is the order they expire in; consumed from #head. */
  #queue: Slot[] = [];
  #head = 0;

  constructor(max: number, isOpen: (uploadId: string) => boolean) {
    this.#max = max;
    this.#isOpen = isOpen;
  }

  /**
   * Takes a slot for `client`, to be given its quote with `made` or given back with `release`.
   * @throws AgentError TOO_MANY_QUOTES when the client already holds `max` open quotes; `retryAfterSeconds` in its
   *   details says when the first of them expires
   */
  take(client: string, nowMs: number): { made: (uploadId: string, expiresAtMs: number) => void; release: () => void } {
    this.#dropExpired(nowMs);
    let slots = this.#byClient.get(client);
    if (slots && slots.length >= this.#max) {
      // At the limit: quotes that were completed since free their slots (at most max lookups).
      slots = slots.filter((s) => s.uploadId === undefined || this.#isOpen(s.uploadId));
      this.#byClient.set(client, slots);
      if (slots.length >= this.#max) {
        const first = slots.reduce((m, s) => Math.min(m, s.expiresAt), Infinity);
        const retryAfterSeconds = Number.isFinite(first) ? Math.max(1, Math.ceil((first - nowMs) / 1000)) : 1;
        throw new AgentError('TOO_MANY_QUOTES', `this client already holds ${slots.length} open quotes, the most allowed (quotesPerClientMax); one frees in ${retryAfterSeconds} s, or when a quote is paid and uploaded`, {
          retryAfterSeconds,
        });
      }
    }
    const slot: Slot = { client, uploadId: undefined, expiresAt: Infinity };
    if (slots) slots.push(slot);
    else this.#byClient.set(client, [slot]);
    let settled = false;
    return {
      made: (uploadId, expiresAtMs) => {
        if (settled) return;
        settled = true;
        slot.uploadId = uploadId;
        slot.expiresAt = expiresAtMs;
        this.#queue.push(slot);
      },
      release: () => {
        if (settled) return;
        settled = true;
        this.#remove(slot);
      },
    };
  }

  #dropExpired(nowMs: number): void {
    const q = this.#queue;
    while (this.#head < q.length) {
      const slot = q[this.#head];
      if (slot === undefined || slot.expiresAt > nowMs) break;
      this.#head++;
      this.#remove(slot);
    }
    // Compact once the consumed head is most of the queue: amortised constant time per slot.
    if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }

  #remove(slot: Slot): void {
    const slots = this.#byClient.get(slot.client);
    if (!slots) return;
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    if (slots.length === 0) this.#byClient.delete(slot.client);
  }
}
