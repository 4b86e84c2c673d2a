// Types for coinselect 3.1.13 (it ships none). Only the default export (index.js: blackjack, then
// accumulative) is used. Values and fee rates are JS numbers: whole satoshis and whole sat per vbyte.
declare module 'coinselect' {
  namespace coinSelect {
    interface Input {
      value: number;
      /** Only `.length` is read: the input's size beyond its 41-byte base (default 107, a P2PKH scriptSig). */
      script?: { length: number };
    }
    interface Output {
      /** Absent only on the change output coinselect adds. */
      value?: number;
      /** Only `.length` is read: the output script's size (default 25, P2PKH). */
      script?: { length: number };
    }
    interface Result<I extends Input, O extends Output> {
      /** Undefined when the inputs cannot pay for the outputs and the fee. */
      inputs?: I[];
      /** The given outputs, then possibly a change output `{ value }` with no address. */
      outputs?: Array<O | { value: number }>;
      /** The fee for the selection, or on failure the fee that the attempted selection would have needed. */
      fee: number;
    }
  }
  function coinSelect<I extends coinSelect.Input, O extends coinSelect.Output>(
    utxos: I[],
    outputs: O[],
    feeRate: number,
  ): coinSelect.Result<I, O>;
  export = coinSelect;
}
