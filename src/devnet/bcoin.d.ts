// Minimal types for bcoin 1.0.2 (CommonJS, ships no types), declaring only what src/devnet/node.ts
// and its parts use. Hashes are hex strings in bcoin's internal (little-endian) byte order unless a method says
// otherwise (`txid()`, `rhash()` give the display order). Amounts are JS numbers of satoshis inside
// bcoin (safe: 21e14 < 2^53); the node converts them to bigint at its edge.
declare module 'bcoin' {
  namespace bcoin {
    interface NetworkAddressPrefix {
      pubkeyhash: number;
      scripthash: number;
      bech32: string;
    }
    class Network {
      static get(type: string): Network;
      type: string;
      addressPrefix: NetworkAddressPrefix;
      minRelay: number;
    }

    class Script {
      static fromRaw(data: Buffer): Script;
      static fromAddress(address: Address): Script;
      static readonly flags: {
        STANDARD_VERIFY_FLAGS: number;
        VERIFY_P2SH: number;
        VERIFY_DERSIG: number;
        VERIFY_NULLDUMMY: number;
        VERIFY_CHECKLOCKTIMEVERIFY: number;
        VERIFY_CHECKSEQUENCEVERIFY: number;
        VERIFY_WITNESS: number;
      };
      toRaw(): Buffer;
    }

    class Witness {
      items: Buffer[];
    }

    class Address {
      static fromString(addr: string, network?: Network): Address;
      static fromScript(script: Script): Address | null;
      toString(network?: Network): string;
    }

    class Outpoint {
      hash: string;
      index: number;
    }

    class Input {
      prevout: Outpoint;
      script: Script;
      witness: Witness;
      sequence: number;
    }

    class Output {
      value: number;
      script: Script;
    }

    class TX {
      static fromRaw(data: Buffer): TX;
      inputs: Input[];
      outputs: Output[];
      version: number;
      locktime: number;
      hash(enc: 'hex'): string;
      txid(): string;
      toRaw(): Buffer;
      getSize(): number;
      getVirtualSize(): number;
      isCoinbase(): boolean;
      getFee(view: CoinView): number;
      hasCoins(view: CoinView): boolean;
      /** Throws a ScriptError ({code, message}) when the input's scripts fail with these flags. */
      checkInput(index: number, coin: Output, flags: number): void;
    }

    class Coin extends Output {
      static fromTX(tx: TX, index: number, height: number): Coin;
      hash: string;
      index: number;
      height: number;
      coinbase: boolean;
    }

    class CoinView {
      constructor();
      addCoin(coin: Coin): unknown;
      getOutputFor(input: Input): Output | null;
    }

    interface FundOptions {
      changeAddress: Address;
      /** Fee rate in satoshis per kilo-vbyte. */
      rate: number;
      selection?: 'age' | 'value' | 'random' | 'all';
      /** Chain height, so that immature coinbase coins are skipped. */
      height?: number;
      subtractFee?: boolean;
      inputs?: { hash: string; index: number }[];
    }

    class MTX extends TX {
      constructor();
      addOutput(script: Script | Address, value: number): Output;
      addCoin(coin: Coin): Input;
      fund(coins: Coin[], options: FundOptions): Promise<unknown>;
      sign(ring: KeyRing): number;
      toTX(): TX;
    }

    class KeyRing {
      static fromPrivate(key: Buffer, compress: boolean): KeyRing;
      witness: boolean;
      getAddress(): Address;
    }

    class Block {
      static fromRaw(data: Buffer): Block;
      txs: TX[];
      prevBlock: string;
      hash(enc: 'hex'): string;
      rhash(): string;
      toRaw(): Buffer;
    }

    class ChainEntry {
      hash: string;
      height: number;
      prevBlock: string;
      time: number;
      rhash(): string;
    }

    class TXMeta {
      tx: TX;
      height: number;
      /** Internal-order hash of the containing block. */
      block: string;
      /** Block time. */
      time: number;
      index: number;
    }

    /** bdb's wrapper around a LevelDB backend; `binding` is the leveldown instance. */
    interface BDB {
      binding: { iterator(options: Record<string, unknown>): unknown };
    }

    interface ChainOptions {
      network: Network;
      memory: boolean;
      location?: string;
      indexTX: boolean;
      indexAddress: boolean;
    }
    type ChainEvent = 'connect' | 'disconnect' | 'reorganize' | 'reset';
    class Chain {
      constructor(options: ChainOptions);
      tip: ChainEntry;
      height: number;
      db: { db: BDB };
      open(): Promise<void>;
      close(): Promise<void>;
      on(event: ChainEvent, listener: (entry: ChainEntry, block: Block) => Promise<void>): this;
      on(event: 'error', listener: (err: unknown) => void): this;
      add(block: Block): Promise<ChainEntry | null>;
      getEntryByHeight(height: number): Promise<ChainEntry | null>;
      getEntryByHash(hash: string): Promise<ChainEntry | null>;
      getNextHash(hash: string): Promise<string | null>;
      isMainChain(entry: ChainEntry): Promise<boolean>;
      getMedianTime(entry: ChainEntry): Promise<number>;
      getBlock(hash: string): Promise<Block | null>;
      getRawBlock(hash: string): Promise<Buffer | null>;
      getMeta(hash: string): Promise<TXMeta | null>;
      getTX(hash: string): Promise<TX | null>;
      getCoin(hash: string, index: number): Promise<Coin | null>;
      getCoinsByAddress(addrs: Address[]): Promise<Coin[]>;
      getMetaByAddress(addrs: Address[]): Promise<TXMeta[]>;
    }

    class MempoolEntry {
      tx: TX;
      /** Unix seconds when the entry was accepted. */
      time: number;
    }

    interface MempoolOptions {
      network: Network;
      chain: Chain;
      memory: boolean;
      location?: string;
      persistent: boolean;
      indexAddress: boolean;
      requireStandard: boolean;
    }
    class Mempool {
      constructor(options: MempoolOptions);
      map: Map<string, MempoolEntry>;
      open(): Promise<void>;
      close(): Promise<void>;
      on(event: 'error', listener: (err: unknown) => void): this;
      /** Resolves to the missing parent hashes when the tx was kept as an orphan, else null. */
      addTX(tx: TX): Promise<string[] | null>;
      getTX(hash: string): TX | null;
      getEntry(hash: string): MempoolEntry | undefined;
      hasEntry(hash: string): boolean;
      hasOrphan(hash: string): boolean;
      removeOrphan(hash: string): boolean;
      isSpent(hash: string, index: number): boolean;
      getCoinsByAddress(addrs: Address[]): Coin[];
      getTXByAddress(addrs: Address[]): TX[];
      getCoinView(tx: TX): Promise<CoinView>;
      evictEntry(entry: MempoolEntry): void;
      _addBlock(entry: ChainEntry, txs: TX[]): Promise<void>;
      _removeBlock(entry: ChainEntry, txs: TX[]): Promise<void>;
      _handleReorg(): Promise<void>;
      _reset(): Promise<void>;
      cache: { db: BDB | null; sync(tipHash: string): void; flush(): Promise<void> };
    }

    class CPUJob {
      pushTX(tx: TX, view: CoinView): boolean;
      refresh(): void;
    }

    interface MinerOptions {
      network: Network;
      chain: Chain;
      mempool?: Mempool;
    }
    class Miner {
      constructor(options: MinerOptions);
      on(event: 'error', listener: (err: unknown) => void): this;
      open(): Promise<void>;
      close(): Promise<void>;
      mineBlock(tip: ChainEntry, address: Address): Promise<Block>;
      createJob(tip: ChainEntry, address: Address): Promise<CPUJob>;
      cpu: { mineAsync(job: CPUJob): Promise<Block | null> };
    }

    const util: { revHex(hex: string): string };
    const policy: { getMinFee(size: number, rate: number): number };
  }
  export default bcoin;
}
