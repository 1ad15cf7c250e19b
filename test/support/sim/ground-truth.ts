import type { Kysely } from 'kysely';
import { type Address, decodeEventLog, decodeFunctionData, erc20Abi, type Hex, type Transaction, type TransactionReceipt } from 'viem';
import type { Database } from '../../../src/db/schema.js';
import type { ForeignTx, ReorgRecord } from './chaos.js';
import { checkLedgerDb } from '../ledger-check.js';
import type { Node } from './node.js';
import type { AssetInfo, AssetSymbol, PlannedWithdrawal } from './workload.js';

export const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'] as const;

export type GroundTruth = {
  violations: string[];
  notes: string[];
  statusCounts: Record<string, number>;
  chain: { blocksScanned: number; hotWalletTxs: number; payouts: number; cancels: number; fills: number; foreign: number; reverted: number; attemptsByKind: Record<string, number> };
};

type Payment = { asset: AssetSymbol; to: string; amount: bigint; hash: Hex };

/**
 * The final verdict of a run, from the chain (scanned block by block, directly at the node) and
 * Sluice's database, against what the simulation asked for:
 * - every accepted withdrawal is in the database, as requested, and terminal; funded ones
 *   COMPLETED, one-unit-short ones REJECTED (insufficient_balance);
 * - each COMPLETED one paid exactly once, the right amount of the right asset to the right address
 *   (recipient balance on chain, and exactly one native transfer / Transfer log from a hot wallet);
 *   everything else paid nothing; nothing paid to anyone else;
 * - every tx from a hot wallet is a payout, cancel or fill Sluice signed, or a foreign tx the simulation
 *   injected; a mined cancel is never settled as a payout, a mined payout never left unsettled;
 * - nonces: one (wallet, nonce) per withdrawal, moved only off a nonce a foreign tx took; for each
 *   wallet the chain's nonce equals `wallets.next_nonce` and nothing is left pending;
 * - ledger conserved, nothing held, each user's balance what its withdrawal's outcome says.
 */
export async function checkGroundTruth(input: {
  plan: PlannedWithdrawal[];
  db: Kysely<Database>;
  node: Node;
  assets: Record<AssetSymbol, AssetInfo>;
  foreign: Map<string, ForeignTx>;
  reorgs?: ReorgRecord[];
  confirmations?: number;
}): Promise<GroundTruth> {
  const { plan, db, node, assets } = input;
  const violations: string[] = [];
  const notes: string[] = [];
  const chainId = assets.ETH.chainId;
  const token = assets.USDT.contract!.toLowerCase();

  const rows = await db.selectFrom('withdrawals').selectAll().execute();
  const attempts = await db.selectFrom('tx_attempts').selectAll().orderBy('id').execute();
  const walletRows = await db.selectFrom('wallets').selectAll().where('chain_id', '=', chainId).execute();
  const openLetters = await db.selectFrom('dead_letters').selectAll().where('status', '=', 'open').execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const lettersFor = (id: string) => openLetters.filter((l) => l.withdrawal_id === id);

  const statusCounts: Record<string, number> = {};
  for (const r of rows) statusCounts[r.status] = (statusCounts[r.status] ?? 0) + 1;

  // ---- accepted, stored as asked, terminal, expected outcome ----
  const planned = new Set<string>();
  const stuck: string[] = [];
  const stuckCauses = new Map<string, number>();
  for (const p of plan) {
    const label = `#${p.index} ${p.asset} ${p.amountText} → ${p.to}`;
    if (!p.id) {
      violations.push(`withdrawal ${label} (key ${p.idempotencyKey}) was never accepted by the API`);
      continue;
    }
    planned.add(p.id);
    const w = byId.get(p.id);
    if (!w) {
      violations.push(`withdrawal ${p.id} (${label}) got 202 but is not in the database (lost)`);
      continue;
    }
    const mismatch: string[] = [];
    if (w.user_id !== p.userId) mismatch.push(`user ${w.user_id}`);
    if (w.asset !== p.asset) mismatch.push(`asset ${w.asset}`);
    if (BigInt(w.amount) !== p.amount) mismatch.push(`amount ${w.amount}`);
    if (w.to_address.toLowerCase() !== p.to.toLowerCase()) mismatch.push(`to ${w.to_address}`);
    if (BigInt(w.fee) !== assets[p.asset].fee) mismatch.push(`fee ${w.fee}`);
    if (mismatch.length > 0) violations.push(`withdrawal ${p.id} (${label}) stored differently from the request: ${mismatch.join(', ')}`);
    if (!(TERMINAL as readonly string[]).includes(w.status)) {
      const letters = lettersFor(w.id).map((l) => `${l.queue} DLQ ${l.code}: ${l.reason.slice(0, 120)}`);
      const cause = `${w.status}${w.failure_code ? `/${w.failure_code}` : ''}${lettersFor(w.id).map((l) => ` + ${l.queue} DLQ ${l.code}`).join('')}`;
      stuckCauses.set(cause, (stuckCauses.get(cause) ?? 0) + 1);
      stuck.push(
        `  ${w.id} ${w.status}${w.failure_code ? ` failure_code=${w.failure_code}` : ''} wallet=${w.wallet ?? '-'} nonce=${w.nonce ?? '-'} tx=${w.tx_hash ?? '-'}${letters.length ? ` [${letters.join('; ')}]` : ''}`,
      );
      continue;
    }
    if (p.covered && w.status !== 'COMPLETED') {
      violations.push(`withdrawal ${w.id} (${label}) was funded but ended ${w.status} (failure_code=${w.failure_code ?? '-'}: ${w.failure_reason ?? ''})`);
    }
    if (!p.covered && (w.status !== 'REJECTED' || w.failure_code !== 'insufficient_balance')) {
      violations.push(`withdrawal ${w.id} (${label}) was one base unit short but ended ${w.status} (failure_code=${w.failure_code ?? '-'})`);
    }
  }
  if (stuck.length > 0) {
    const shown = stuck.slice(0, 60);
    const more = stuck.length > shown.length ? `\n  … and ${stuck.length - shown.length} more` : '';
    const causes = [...stuckCauses].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ×${n}`).join(', ');
    violations.unshift(`${stuck.length} withdrawal(s) not terminal at the deadline (${causes}):\n${shown.join('\n')}${more}`);
  }
  for (const r of rows) if (!planned.has(r.id)) violations.push(`withdrawal ${r.id} (key ${r.idempotency_key}) is in the database but the API never returned it: a duplicate?`);

  // ---- the chain: every tx from a hot wallet ----
  const hot = new Set(walletRows.map((w) => w.address.toLowerCase()));
  const attemptByHash = new Map(attempts.map((a) => [a.tx_hash.toLowerCase(), a]));
  const head = await node.head();
  const hotTxs: Transaction[] = [];
  for (let start = 1n; start <= head; start += 64n) {
    const numbers: bigint[] = [];
    for (let n = start; n <= head && n < start + 64n; n++) numbers.push(n);
    const blocks = await Promise.all(numbers.map((n) => node.client.getBlock({ blockNumber: n, includeTransactions: true })));
    for (const b of blocks) for (const t of b.transactions) if (hot.has(t.from.toLowerCase())) hotTxs.push(t);
  }
  const receipts = new Map<string, TransactionReceipt>();
  for (let i = 0; i < hotTxs.length; i += 64) {
    const slice = hotTxs.slice(i, i + 64);
    const got = await Promise.all(slice.map((t) => node.client.getTransactionReceipt({ hash: t.hash })));
    for (const r of got) receipts.set(r.transactionHash.toLowerCase(), r);
  }

  const payments: Payment[] = [];
  const minedAt = new Map<string, { hash: string; foreign: boolean }>(); // "wallet/nonce" -> mined tx
  const minedByWithdrawal = new Map<string, Array<{ hash: string; kind: string; success: boolean }>>();
  const stats = { blocksScanned: Number(head), hotWalletTxs: hotTxs.length, payouts: 0, cancels: 0, fills: 0, foreign: 0, reverted: 0, attemptsByKind: {} as Record<string, number> };
  for (const a of attempts) stats.attemptsByKind[a.kind] = (stats.attemptsByKind[a.kind] ?? 0) + 1;

  for (const t of hotTxs) {
    const hash = t.hash.toLowerCase();
    const from = t.from.toLowerCase();
    const receipt = receipts.get(hash)!;
    const success = receipt.status === 'success';
    const isForeign = input.foreign.has(hash);
    minedAt.set(`${from}/${t.nonce}`, { hash, foreign: isForeign });
    if (!success) stats.reverted += 1;

    // What moved, read from the chain alone.
    const moved: Payment[] = [];
    if (success && t.value > 0n && t.to) moved.push({ asset: 'ETH', to: t.to.toLowerCase(), amount: t.value, hash: t.hash });
    if (success) {
      for (const log of receipt.logs) {
        if (log.address.toLowerCase() !== token) continue;
        try {
          const ev = decodeEventLog({ abi: erc20Abi, data: log.data, topics: log.topics });
          if (ev.eventName === 'Transfer' && ev.args.from.toLowerCase() === from) moved.push({ asset: 'USDT', to: ev.args.to.toLowerCase(), amount: ev.args.value, hash: t.hash });
        } catch {
          /* not a Transfer */
        }
      }
    }
    payments.push(...moved);

    if (isForeign) {
      stats.foreign += 1;
      if (moved.length > 0) violations.push(`foreign tx ${hash} moved funds (the simulation only sends 0-value txs)`);
      continue;
    }
    const attempt = attemptByHash.get(hash);
    if (!attempt) {
      violations.push(`tx ${hash} from hot wallet ${from} (nonce ${t.nonce}, block ${t.blockNumber}) was neither signed by Sluice (no tx_attempts row) nor injected by the simulation`);
      continue;
    }
    if (Number(attempt.nonce) !== t.nonce || attempt.wallet.toLowerCase() !== from) {
      violations.push(`tx ${hash}: tx_attempts says wallet ${attempt.wallet} nonce ${attempt.nonce}, the chain says ${from} nonce ${t.nonce}`);
    }
    const isCancelShape = t.to?.toLowerCase() === from && t.value === 0n && (t.input === '0x' || t.input === '0x0');
    if (attempt.kind === 'fill') {
      // A nonce the withdrawal held before it was re-signed, filled after a reorg beyond finality emptied it: not one of its txs.
      stats.fills += 1;
      if (!isCancelShape) violations.push(`tx ${hash} is recorded as a fill but is not a 0-value self-transfer (to ${t.to}, value ${t.value})`);
      continue;
    }
    const list = minedByWithdrawal.get(attempt.withdrawal_id) ?? [];
    list.push({ hash, kind: attempt.kind, success });
    minedByWithdrawal.set(attempt.withdrawal_id, list);
    const w = byId.get(attempt.withdrawal_id);
    if (attempt.kind === 'cancel') {
      stats.cancels += 1;
      if (!isCancelShape) violations.push(`tx ${hash} is recorded as a cancel but is not a 0-value self-transfer (to ${t.to}, value ${t.value}, input ${t.input.slice(0, 10)})`);
      if (w && w.status === 'COMPLETED') violations.push(`withdrawal ${w.id} is COMPLETED but the tx mined at its nonce is its cancel ${hash} (invariant 7)`);
    } else {
      stats.payouts += 1;
      if (!w) {
        violations.push(`payout tx ${hash} belongs to unknown withdrawal ${attempt.withdrawal_id}`);
        continue;
      }
      const intended = intendedPayment(t, assets);
      if (!intended || intended.to !== w.to_address.toLowerCase() || intended.amount !== BigInt(w.amount) || intended.asset !== w.asset) {
        violations.push(`payout tx ${hash} of withdrawal ${w.id} does not pay ${w.amount} ${w.asset} to ${w.to_address} (decoded: ${intended ? `${intended.amount} ${intended.asset} to ${intended.to}` : 'not a transfer'})`);
      }
      if (success && w.status !== 'COMPLETED') violations.push(`payout tx ${hash} of withdrawal ${w.id} is mined and succeeded, but the withdrawal is ${w.status}`);
      if (!success && w.status !== 'FAILED') violations.push(`payout tx ${hash} of withdrawal ${w.id} reverted, but the withdrawal is ${w.status}`);
      if (success && w.status === 'COMPLETED') {
        if (w.tx_hash?.toLowerCase() !== hash) violations.push(`withdrawal ${w.id} is COMPLETED with tx_hash ${w.tx_hash}, but the payout mined is ${hash}`);
        else if (w.block_number !== null && Number(w.block_number) !== Number(t.blockNumber)) notes.push(`withdrawal ${w.id}: block_number ${w.block_number} in the database, ${t.blockNumber} on chain (re-mined after a reorg)`);
      }
    }
  }

  // ---- payments against the plan ----
  const paid = new Map<string, Payment[]>();
  for (const pay of payments) paid.set(`${pay.asset}/${pay.to}`, [...(paid.get(`${pay.asset}/${pay.to}`) ?? []), pay]);
  const recipients = new Set<string>();
  for (const p of plan) {
    if (!p.id) continue;
    const w = byId.get(p.id);
    const to = p.to.toLowerCase();
    recipients.add(to);
    const own = paid.get(`${p.asset}/${to}`) ?? [];
    const other = paid.get(`${p.asset === 'ETH' ? 'USDT' : 'ETH'}/${to}`) ?? [];
    const completed = w?.status === 'COMPLETED';
    if (completed) {
      if (own.length !== 1) {
        // A payout that vanished in a reorg as deep as the confirmations it completed with: say so.
        const block = w?.block_number === null || w?.block_number === undefined ? undefined : Number(w.block_number);
        const hit = block === undefined ? undefined : (input.reorgs ?? []).find((r) => block > r.head - r.depth && block <= r.head);
        const why = hit
          ? ` — its block ${block} was replaced by the depth-${hit.depth} reorg at head ${hit.head}${input.confirmations !== undefined && hit.depth >= input.confirmations ? ` (depth ≥ the ${input.confirmations} confirmations it completed with: beyond the finality assumption)` : ''}`
          : '';
        violations.push(`withdrawal ${p.id} (COMPLETED) was paid ${own.length} times on chain: ${own.map((x) => `${x.amount} in ${x.hash}`).join(', ') || 'never'}${why}`);
      }
      else if (own[0]!.amount !== p.amount) violations.push(`withdrawal ${p.id} was paid ${own[0]!.amount} instead of ${p.amount} (${own[0]!.hash})`);
    } else if (own.length > 0) {
      violations.push(`withdrawal ${p.id} is ${w?.status ?? 'missing'} but was paid on chain: ${own.map((x) => `${x.amount} in ${x.hash}`).join(', ')}`);
    }
    if (other.length > 0) violations.push(`withdrawal ${p.id} (${p.asset}) recipient got the other asset: ${other.map((x) => `${x.amount} ${x.asset} in ${x.hash}`).join(', ')}`);
  }
  for (const pay of payments) if (!recipients.has(pay.to)) violations.push(`hot wallet paid ${pay.amount} ${pay.asset} to ${pay.to}, which no withdrawal names (${pay.hash})`);

  // ---- recipient balances, the plainest ground truth ----
  const balanceChecks = plan.filter((p) => p.id).map(async (p) => {
    const w = byId.get(p.id!);
    const expected = w?.status === 'COMPLETED' ? p.amount : 0n;
    const [eth, usdt] = await Promise.all([
      node.client.getBalance({ address: p.to }),
      node.client.readContract({ address: assets.USDT.contract!, abi: erc20Abi, functionName: 'balanceOf', args: [p.to] }),
    ]);
    const want = { ETH: p.asset === 'ETH' ? expected : 0n, USDT: p.asset === 'USDT' ? expected : 0n };
    if (eth !== want.ETH || usdt !== want.USDT) {
      violations.push(`recipient ${p.to} of withdrawal ${p.id} (${w?.status}) holds ${eth} wei and ${usdt} USDT units on chain; expected ${want.ETH} and ${want.USDT}`);
    }
  });
  for (let i = 0; i < balanceChecks.length; i += 32) await Promise.all(balanceChecks.slice(i, i + 32));

  // ---- nonces ----
  const pairOwners = new Map<string, Set<string>>();
  const pairsByWithdrawal = new Map<string, string[]>();
  for (const a of attempts) {
    const pair = `${a.wallet.toLowerCase()}/${a.nonce}`;
    pairOwners.set(pair, (pairOwners.get(pair) ?? new Set()).add(a.withdrawal_id));
    const list = pairsByWithdrawal.get(a.withdrawal_id) ?? [];
    if (!list.includes(pair)) list.push(pair);
    pairsByWithdrawal.set(a.withdrawal_id, list);
  }
  for (const [pair, owners] of pairOwners) if (owners.size > 1) violations.push(`nonce ${pair} was signed for ${owners.size} withdrawals: ${[...owners].join(', ')} (invariant 1)`);
  for (const [id, pairs] of pairsByWithdrawal) {
    const w = byId.get(id);
    if (w?.status === 'REJECTED') violations.push(`withdrawal ${id} is REJECTED but has signed tx(s) at ${pairs.join(', ')}`);
    if (pairs.length < 2) continue;
    const current = w?.wallet && w.nonce !== null ? `${w.wallet.toLowerCase()}/${w.nonce}` : pairs[pairs.length - 1]!;
    for (const pair of pairs) {
      if (pair === current) continue;
      const mined = minedAt.get(pair);
      // A foreign tx took it; or it did, a reorg beyond finality took that away, and a fill used it.
      if (!mined?.foreign && attemptByHash.get(mined?.hash ?? '')?.kind !== 'fill') {
        violations.push(`withdrawal ${id} was signed at ${pairs.join(' and ')}; it left ${pair} although ${mined ? `its own tx ${mined.hash}` : 'nothing'} is mined there, not a foreign tx (invariant 1)`);
      }
    }
  }
  for (const [id, list] of minedByWithdrawal) {
    if (list.length > 1) violations.push(`withdrawal ${id} has ${list.length} txs mined: ${list.map((x) => `${x.kind} ${x.hash}`).join(', ')}`);
  }
  for (const w of walletRows) {
    const address = w.address as Address;
    const [latest, pending, eth] = await Promise.all([node.nonce(address, 'latest'), node.nonce(address, 'pending'), node.client.getBalance({ address })]);
    if (eth < 10n ** 18n) notes.push(`hot wallet ${address} ends with only ${eth} wei: chaos left it short (a harness problem if low-funds had ended)`);
    if (pending !== latest) violations.push(`wallet ${address}: ${pending - latest} tx(s) still pending after quiescence (pending nonce ${pending}, latest ${latest})`);
    const next = Number(w.next_nonce);
    if (latest < next) {
      violations.push(`wallet ${address}: nonce gap — the database assigned up to ${next - 1}, the chain has only used up to ${latest - 1} (invariant 6)`);
    } else if (latest > next) {
      // Nonces past the database's: fine only if each is a foreign tx Sluice has not needed to step over yet.
      const beyond = Array.from({ length: latest - next }, (_, i) => minedAt.get(`${address.toLowerCase()}/${next + i}`));
      if (beyond.every((m) => m?.foreign)) {
        notes.push(`wallet ${address}: chain nonce ${latest} is ahead of wallets.next_nonce ${next} by ${latest - next} foreign tx(s) sent after Sluice's last signature`);
      } else {
        violations.push(`wallet ${address}: the chain's nonce ${latest} is ahead of wallets.next_nonce ${next}, and not only by foreign txs`);
      }
    }
  }

  // ---- ledger ----
  const allTerminal = stuck.length === 0;
  violations.push(...(await checkLedgerDb(db, { expectNothingHeld: allTerminal })).violations);
  const balances = await db.selectFrom('balances').selectAll().execute();
  const balanceOf = new Map(balances.map((b) => [`${b.user_id}/${b.asset}`, b]));
  for (const p of plan) {
    const w = p.id ? byId.get(p.id) : undefined;
    if (!w || !(TERMINAL as readonly string[]).includes(w.status)) continue;
    const b = balanceOf.get(`${p.userId}/${p.asset}`);
    const want = p.credit - (w.status === 'COMPLETED' ? p.amount + assets[p.asset].fee : 0n);
    if (!b || BigInt(b.available) !== want || BigInt(b.held) !== 0n) {
      violations.push(`user ${p.userId} ${p.asset}: available ${b?.available ?? '-'} held ${b?.held ?? '-'}, expected available ${want} held 0 after ${w.status}`);
    }
  }

  for (const l of openLetters) {
    const w = byId.get(l.withdrawal_id);
    const terminal = w && (TERMINAL as readonly string[]).includes(w.status);
    if (terminal && (l.queue === 'tx' || w.status !== 'REJECTED')) notes.push(`open ${l.queue} dead letter for ${l.withdrawal_id} (${w?.status}): ${l.code} — ${l.reason.slice(0, 160)}`);
  }
  return { violations, notes, statusCounts, chain: stats };
}

function intendedPayment(t: Transaction, assets: Record<AssetSymbol, AssetInfo>): { asset: AssetSymbol; to: string; amount: bigint } | undefined {
  if (t.to && t.to.toLowerCase() === assets.USDT.contract!.toLowerCase()) {
    try {
      const call = decodeFunctionData({ abi: erc20Abi, data: t.input });
      if (call.functionName === 'transfer') return { asset: 'USDT', to: (call.args[0] as Address).toLowerCase(), amount: call.args[1] as bigint };
    } catch {
      return undefined;
    }
    return undefined;
  }
  if (t.to && (t.input === '0x' || t.input === '0x0')) return { asset: 'ETH', to: t.to.toLowerCase(), amount: t.value };
  return undefined;
}
