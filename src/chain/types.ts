/** One EVM chain Sluice withdraws on. */
export type ChainConfig = {
  chainId: number;
  name: string;
  /** Several endpoints (own node + providers); reads fail over, broadcasts go to every healthy one. */
  rpcUrls: string[];
  /** Blocks on top of the inclusion block (inclusive) before a withdrawal is COMPLETED. */
  confirmations: number;
  /** Hard cap on maxFeePerGas, in wei. */
  maxFeePerGas: bigint;
  /** Tip used when the node cannot suggest one, in wei. */
  defaultPriorityFee: bigint;
};
