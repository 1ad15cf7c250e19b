import type { Generated } from 'kysely';

/**
 * Table types shared by both dialects. Amounts are integer base units kept as decimal strings
 * (DECIMAL(65,0) on MySQL, TEXT on SQLite, whose integers stop at 2^63). Times are epoch ms.
 */
export type Amount = string;

export interface ApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  prefix: string;
  scopes: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

export type AdminRole = 'viewer' | 'operator' | 'admin';

export interface AdminUsersTable {
  username: string;
  password_hash: string;
  role: AdminRole;
  created_at: number;
  disabled_at: number | null;
  last_login_at: number | null;
}

export interface AdminSessionsTable {
  token_hash: string;
  username: string;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
}

export interface AdminLoginFailuresTable {
  id: Generated<number>;
  subject: string;
  created_at: number;
}

/** A row exists while its scope is paused. */
export interface PausesTable {
  scope_key: string;
  scope: 'global' | 'chain' | 'network';
  chain_id: number | null;
  asset: string | null;
  reason: string;
  paused_by: string;
  paused_at: number;
}

export interface WithdrawalStatusRollupTable {
  status: string;
  counted_to: number;
  count: number;
}

export interface AssetsTable {
  symbol: string;
  ledger_decimals: number;
  enabled: number;
}

export interface AssetNetworksTable {
  asset: string;
  chain_id: number;
  chain_name: string;
  kind: 'native' | 'erc20';
  contract: string | null;
  decimals: number;
  withdrawal_fee: Amount;
  min_amount: Amount;
  max_amount: Amount;
  gas_limit: number;
  enabled: number;
}

export interface BalancesTable {
  user_id: string;
  asset: string;
  available: Amount;
  held: Amount;
  updated_at: number;
}

export interface LedgerEntriesTable {
  id: Generated<number>;
  journal_id: string;
  account: string;
  user_id: string | null;
  asset: string;
  amount: Amount;
  kind: string;
  reference: string;
  withdrawal_id: string | null;
  created_at: number;
}

export interface LedgerReferencesTable {
  kind: 'credit' | 'debit';
  reference: string;
  user_id: string;
  asset: string;
  amount: Amount;
  journal_id: string;
  created_at: number;
}

export type WithdrawalStatus =
  | 'RECEIVED'
  | 'SIGNED'
  | 'BROADCAST'
  | 'CONFIRMING'
  | 'COMPLETED'
  | 'REJECTED'
  | 'FAILED'
  | 'CANCELLED';

export interface WithdrawalsTable {
  id: string;
  idempotency_key: string;
  request_hash: string;
  api_key_id: string;
  user_id: string;
  asset: string;
  chain_id: number;
  to_address: string;
  amount: Amount;
  fee: Amount;
  status: WithdrawalStatus;
  wallet: string | null;
  nonce: number | null;
  tx_hash: string | null;
  block_number: number | null;
  /** Hash of the block holding the mined tx: confirmations count only while it stays canonical. */
  block_hash: string | null;
  confirmations: number;
  failure_code: string | null;
  failure_reason: string | null;
  create_response: string;
  /** Non-null: fill this withdrawal's nonce with a cancel (why, e.g. `operator: …` or a node's refusal). */
  cancel_reason: string | null;
  requeued_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface WithdrawalEventsTable {
  id: Generated<number>;
  withdrawal_id: string;
  from_status: string | null;
  to_status: string;
  code: string | null;
  detail: string | null;
  created_at: number;
}

export interface WalletsTable {
  chain_id: number;
  address: string;
  key_ref: string;
  next_nonce: number;
  enabled: number;
  created_at: number;
}

export interface TxAttemptsTable {
  id: Generated<number>;
  withdrawal_id: string;
  chain_id: number;
  wallet: string;
  nonce: number;
  tx_hash: string;
  raw_tx: string;
  kind: 'transfer' | 'bump' | 'cancel' | 'fill';
  max_fee_per_gas: Amount;
  max_priority_fee_per_gas: Amount;
  gas_limit: number;
  created_at: number;
  /** First time a node accepted it. */
  broadcast_at: number | null;
  last_broadcast_at: number | null;
  broadcast_count: number;
  last_error: string | null;
}

export interface DeadLettersTable {
  id: Generated<number>;
  queue: 'invalid' | 'tx';
  withdrawal_id: string;
  code: string;
  reason: string;
  attempts: number;
  status: 'open' | 'retried' | 'discarded';
  payload: string;
  resolved_by: string | null;
  resolution_reason: string | null;
  resolved_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  reason: string | null;
  before_state: string | null;
  after_state: string | null;
  created_at: number;
}

export interface ChainStateTable {
  chain_id: number;
  genesis_hash: string;
  last_block: number;
  updated_at: number;
}

/** One EVM chain Sluice withdraws on; written by `sluice config apply` (and dev mode for its devnet). */
export interface ChainsTable {
  chain_id: number;
  name: string;
  /** JSON `[{ "url": string, "weight": number }]`. */
  rpc_endpoints: string;
  confirmations: number;
  /** Wei. */
  max_fee_per_gas: Amount;
  /** Wei: the tip used when the node cannot suggest one. */
  priority_fee: Amount;
  explorer_url: string | null;
  enabled: number;
  /** Transactions one hot wallet may have signed and not yet mined (its node's per-sender pool). */
  max_pending_per_wallet: number;
  created_at: number;
  updated_at: number;
}

export interface Database {
  api_keys: ApiKeysTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  admin_login_failures: AdminLoginFailuresTable;
  pauses: PausesTable;
  withdrawal_status_rollup: WithdrawalStatusRollupTable;
  assets: AssetsTable;
  asset_networks: AssetNetworksTable;
  balances: BalancesTable;
  ledger_entries: LedgerEntriesTable;
  ledger_references: LedgerReferencesTable;
  withdrawals: WithdrawalsTable;
  withdrawal_events: WithdrawalEventsTable;
  wallets: WalletsTable;
  tx_attempts: TxAttemptsTable;
  dead_letters: DeadLettersTable;
  chain_state: ChainStateTable;
  chains: ChainsTable;
  audit_log: AuditLogTable;
}
