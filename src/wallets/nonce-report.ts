import { type Address, createPublicClient, http } from 'viem';
import type { Db } from '../db/connect.js';
import type { WithdrawalStatus } from '../db/schema.js';

/** What the report needs from a chain (a `ChainRpc` has it; so does `rpcNonceSource`). */
export type NonceSource = {
  transactionCount(address: Address, blockTag: 'latest' | 'pending'): Promise<number>;
};

/**
 * - `in_step`: database next nonce = chain pending = chain latest.
 * - `in_flight`: the database is ahead of the mined count by Sluice's own unmined txs.
 * - `gap`: the database is ahead of the chain's pending count with nothing in flight to explain
 *   it: nonces were given out that no tx will ever use unless filled; the lane is stuck there.
 * - `chain_ahead`: the chain used more nonces than Sluice gave out: the wallet was used outside Sluice.
 * - `no_endpoint` / `unreachable`: no RPC endpoint for the wallet's chain, or it did not answer.
 */
export type NonceVerdict = 'in_step' | 'in_flight' | 'gap' | 'chain_ahead' | 'no_endpoint' | 'unreachable';

export type WalletNonceRow = {
  chainId: number;
  address: string;
  enabled: boolean;
  /** The next nonce Sluice will sign with (wallets.next_nonce). */
  dbNextNonce: number;
  /** Nonces used by mined txs (eth_getTransactionCount at "latest"). */
  latest: number | null;
  /** Nonces used by mined + pool txs (at "pending"), as the endpoint sees its pool. */
  pending: number | null;
  /** Withdrawals of this wallet in SIGNED, BROADCAST or CONFIRMING. */
  inFlight: number;
  verdict: NonceVerdict;
  detail: string;
};

/** RECEIVED counts once it has a wallet: its nonce is reserved and about to be signed. */
const IN_FLIGHT: WithdrawalStatus[] = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING'];

/** The verdict for one wallet from its three nonces and how many of its withdrawals are in flight. */
export function nonceVerdict(n: { db: number; latest: number; pending: number; inFlight: number }): { verdict: NonceVerdict; detail: string } {
  const { db, latest, pending, inFlight } = n;
  const chain = Math.max(latest, pending);
  if (chain > db) {
    return { verdict: 'chain_ahead', detail: `the chain has used nonces up to ${chain - 1} but Sluice's next nonce is ${db}: the wallet was used outside Sluice` };
  }
  if (db === latest && db === pending) return { verdict: 'in_step', detail: 'database, mined and pending nonces agree' };
  if (db > pending && inFlight === 0) {
    return { verdict: 'gap', detail: `nonces ${pending}..${db - 1} were given out but no tx uses them and nothing is in flight; the wallet's later txs wait behind them` };
  }
  return { verdict: 'in_flight', detail: `${db - latest} nonce(s) signed by Sluice not mined yet (${inFlight} withdrawal(s) in flight)` };
}

/**
 * Per hot wallet: Sluice's next nonce against the chain's mined and pending counts, with a
 * verdict. Read-only; for operators checking a lane (`sluice wallet nonces`).
 */
export async function walletNonceReport(deps: { db: Db; chains: Map<number, NonceSource> }): Promise<WalletNonceRow[]> {
  const k = deps.db.kysely;
  const [wallets, flights] = await Promise.all([
    k.selectFrom('wallets').select(['chain_id', 'address', 'next_nonce', 'enabled']).orderBy('chain_id').orderBy('address').execute(),
    k
      .selectFrom('withdrawals')
      .select(['chain_id', 'wallet'])
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', 'in', IN_FLIGHT)
      .where('wallet', 'is not', null)
      .groupBy(['chain_id', 'wallet'])
      .execute(),
  ]);
  const lane = (chainId: number, address: string) => `${chainId}:${address.toLowerCase()}`;
  const inFlight = new Map(flights.map((f) => [lane(Number(f.chain_id), f.wallet!), Number(f.n)]));

  return Promise.all(
    wallets.map(async (w): Promise<WalletNonceRow> => {
      const chainId = Number(w.chain_id);
      const base = {
        chainId,
        address: w.address,
        enabled: Number(w.enabled) === 1,
        dbNextNonce: Number(w.next_nonce),
        inFlight: inFlight.get(lane(chainId, w.address)) ?? 0,
      };
      const source = deps.chains.get(chainId);
      if (!source) return { ...base, latest: null, pending: null, verdict: 'no_endpoint', detail: `no RPC endpoint for chain ${chainId}` };
      try {
        const [latest, pending] = await Promise.all([source.transactionCount(w.address as Address, 'latest'), source.transactionCount(w.address as Address, 'pending')]);
        return { ...base, latest, pending, ...nonceVerdict({ db: base.dbNextNonce, latest, pending, inFlight: base.inFlight }) };
      } catch (err) {
        return { ...base, latest: null, pending: null, verdict: 'unreachable', detail: `chain ${chainId} did not answer: ${(err as Error).message.split('\n')[0]}` };
      }
    }),
  );
}

/** A plain JSON-RPC endpoint as a NonceSource (the CLI's; no failover, no retries). */
export function rpcNonceSource(url: string, timeoutMs = 5_000) {
  const client = createPublicClient({ transport: http(url, { timeout: timeoutMs, retryCount: 0 }) });
  return {
    url,
    chainId: () => client.getChainId(),
    transactionCount: (address: Address, blockTag: 'latest' | 'pending') => client.getTransactionCount({ address, blockTag }),
  };
}

/** The report as an aligned text table. */
export function formatNonceReport(rows: WalletNonceRow[]): string {
  if (rows.length === 0) return 'No hot wallets registered.';
  const header = ['CHAIN', 'WALLET', 'DB NEXT', 'LATEST', 'PENDING', 'IN FLIGHT', 'VERDICT'];
  const cells = rows.map((r) => [
    String(r.chainId),
    r.address + (r.enabled ? '' : ' (disabled)'),
    String(r.dbNextNonce),
    r.latest === null ? '-' : String(r.latest),
    r.pending === null ? '-' : String(r.pending),
    String(r.inFlight),
    r.verdict,
  ]);
  const numeric = new Set([2, 3, 4, 5]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (numeric.has(i) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  const notes = rows.filter((r) => r.verdict !== 'in_step').map((r) => `${r.address} on ${r.chainId}: ${r.detail}`);
  return [line(header), ...cells.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}
