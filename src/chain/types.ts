/** One JSON-RPC endpoint of a chain. Weight biases reads among equally healthy endpoints. */
export type RpcEndpointConfig = {
  url: string;
  weight: number;
  /** Most JSON-RPC calls per HTTP exchange for batched calls (receipts, code, broadcasts); 1 never batches. Default 100. */
  batch?: number;
};

/** How a chain's stuck transactions are handled (rebroadcast, fee bumps, contract recipients). */
export type ChainPolicy = {
  /** A pending tx not mined this long after its last broadcast is broadcast again (same bytes). */
  rebroadcastAfterMs: number;
  /** A pending tx not mined this long after it was signed is replaced at the same nonce with higher fees. */
  bumpAfterMs: number;
  /** Each replacement raises maxFeePerGas and maxPriorityFeePerGas by at least this many percent (geth: 10). */
  bumpPercent: number;
  /** Gas limit ceiling for a native payout to a contract recipient (estimate × margin must fit). */
  maxRecipientGas: number;
  /** An endpoint whose head is this many blocks behind the best one is lagging: no reads go to it. */
  maxHeadLagBlocks: number;
  /** Each RPC call gives up after this long (a hanging endpoint counts as failed). */
  rpcTimeoutMs: number;
};

/** One EVM chain Sluice withdraws on. */
export type ChainConfig = {
  chainId: number;
  name: string;
  /** Several endpoints (own node + providers); reads go to the healthiest current one, broadcasts to every healthy one. */
  rpc: RpcEndpointConfig[];
  /** Blocks on top of the inclusion block (inclusive) before a withdrawal is COMPLETED. */
  confirmations: number;
  /** Hard cap on maxFeePerGas, in wei. */
  maxFeePerGas: bigint;
  /** Tip used when the node cannot suggest one, in wei. */
  defaultPriorityFee: bigint;
  /** Transactions one hot wallet may have signed and not yet mined; past it new withdrawals go to another wallet or wait. */
  maxPendingPerWallet: number;
  policy: ChainPolicy;
};

export const DEFAULT_CHAIN_POLICY: ChainPolicy = {
  rebroadcastAfterMs: 30_000,
  bumpAfterMs: 120_000,
  bumpPercent: 12.5,
  maxRecipientGas: 500_000,
  maxHeadLagBlocks: 5,
  rpcTimeoutMs: 10_000,
};
