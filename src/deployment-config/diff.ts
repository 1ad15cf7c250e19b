import { getAddress } from 'viem';
import { networkRow } from '../assets/registry.js';
import type { ChainRecord } from '../chain/chain-registry.js';
import type { AssetNetworksTable, WalletsTable } from '../db/schema.js';
import { formatUnits } from '../money/decimal.js';
import type { DeploymentFile, FileNetwork, FileWallet } from './schema.js';

/** What `sluice config apply` found for one thing named in the file. */
export type ChangeAction = 'created' | 'updated' | 'unchanged';
export type ChangeEntity = 'chain' | 'asset' | 'asset network' | 'wallet';
/** Values as the file writes them (gwei, asset units), so the diff reads like the file. */
export type FieldChange = { field: string; before: string; after: string };
export type Change = {
  entity: ChangeEntity;
  /** Stable id: `31337`, `USDT`, `USDT@31337`, `0x…@31337`. */
  key: string;
  /** What the printed line names: `31337 Anvil Devnet`, `USDT@31337`. */
  label: string;
  action: ChangeAction;
  /** Field-level before → after; empty unless `updated`. */
  fields: FieldChange[];
  /** Every field as the file now has it (what a created thing was created with). */
  values: Record<string, string>;
  /** Things worth knowing that are not changes (an ignored startNonce). */
  notes: string[];
};

export type DbState = {
  chains: ChainRecord[];
  assets: Array<{ symbol: string; ledger_decimals: number; enabled: number }>;
  networks: AssetNetworksTable[];
  wallets: WalletsTable[];
};

/** A change allowed only when nothing is in flight on it (or with --force). */
export type InFlightGuard = { chainId: number; asset?: string; problem: string };

export type Plan = {
  changes: Change[];
  /** Refusals, each naming its place in the file; any → nothing is written. */
  problems: string[];
  guards: InFlightGuard[];
  writes: {
    chains: ChainRecord[];
    assets: Array<{ symbol: string; ledger_decimals: number; enabled: number; exists: boolean }>;
    networks: Array<{ values: AssetNetworksTable; exists: boolean }>;
    walletInserts: WalletsTable[];
    walletUpdates: Array<{ chainId: number; address: string; keyRef: string; enabled: number }>;
  };
};

const none = '(none)';

function chainView(c: ChainRecord): Record<string, string> {
  return {
    name: c.name,
    // Weight as in SLUICE_DEVNET_RPC_URL (`url#weight`); a row with unreadable endpoints shows as such.
    rpc: c.rpc.length
      ? c.rpc.map((e) => `${e.weight === 1 ? e.url : `${e.url}#${e.weight}`}${e.batch === undefined ? '' : ` (batch ${e.batch})`}`).join(', ')
      : '(unusable)',
    confirmations: String(c.confirmations),
    maxFeePerGasGwei: formatUnits(c.maxFeePerGas, 9),
    priorityFeeGwei: formatUnits(c.defaultPriorityFee, 9),
    explorerUrl: c.explorerUrl ?? none,
    enabled: String(c.enabled),
    maxPendingPerWallet: String(c.maxPendingPerWallet),
  };
}

function networkView(n: FileNetwork, ledgerDecimals: number, chainName: string): Record<string, string> {
  const fmt = (v: bigint) => formatUnits(v, ledgerDecimals);
  return {
    chainName,
    kind: n.kind,
    contract: n.contract ?? none,
    decimals: String(n.decimals),
    withdrawalFee: fmt(n.withdrawalFee),
    minAmount: fmt(n.minAmount),
    maxAmount: fmt(n.maxAmount),
    gasLimit: String(n.gasLimit),
    enabled: String(n.enabled),
  };
}

function networkFromRow(r: AssetNetworksTable): FileNetwork {
  const contract = r.contract && /^0x[0-9a-fA-F]{40}$/.test(r.contract) ? getAddress(r.contract) : (r.contract as `0x${string}` | null);
  return {
    chainId: Number(r.chain_id),
    kind: r.kind,
    contract,
    decimals: Number(r.decimals),
    withdrawalFee: BigInt(r.withdrawal_fee),
    minAmount: BigInt(r.min_amount),
    maxAmount: BigInt(r.max_amount),
    gasLimit: Number(r.gas_limit),
    enabled: Number(r.enabled) === 1,
  };
}

function fieldChanges(before: Record<string, string>, after: Record<string, string>): FieldChange[] {
  return Object.keys(after)
    .filter((f) => before[f] !== after[f])
    .map((f) => ({ field: f, before: before[f] ?? none, after: after[f]! }));
}

function change(entity: ChangeEntity, key: string, label: string, values: Record<string, string>, before: Record<string, string> | undefined, notes: string[] = []): Change {
  const fields = before ? fieldChanges(before, values) : [];
  const action = !before ? 'created' : fields.length ? 'updated' : 'unchanged';
  return { entity, key, label, action, fields, values, notes };
}

/**
 * The diff between the file and the database, what to write, and what is refused. Pure: the caller
 * reads the state and writes the plan in one transaction.
 */
export function planDeployment(file: DeploymentFile, state: DbState, options: { force: boolean }): Plan {
  const plan: Plan = { changes: [], problems: [], guards: [], writes: { chains: [], assets: [], networks: [], walletInserts: [], walletUpdates: [] } };
  const dbChains = new Map(state.chains.map((c) => [c.chainId, c]));
  const fileChains = new Map(file.chains.map((c) => [c.chainId, c]));
  const chainName = (id: number) => (fileChains.get(id) ?? dbChains.get(id))?.name;
  const now = Date.now();

  for (const c of file.chains) {
    const before = dbChains.get(c.chainId);
    const ch = change('chain', String(c.chainId), `${c.chainId} ${c.name}`, chainView(c), before && chainView(before));
    plan.changes.push(ch);
    if (ch.action !== 'unchanged') plan.writes.chains.push(c);
    if (before?.enabled && !c.enabled) {
      plan.guards.push({ chainId: c.chainId, problem: `chains[${file.chains.indexOf(c)}].enabled: disabling chain ${c.chainId} stops Sluice tracking its withdrawals in flight` });
    }
  }

  const dbAssets = new Map(state.assets.map((a) => [a.symbol, a]));
  file.assets.forEach((a, ai) => {
    const before = dbAssets.get(a.symbol);
    if (before && Number(before.ledger_decimals) !== a.ledgerDecimals) {
      plan.problems.push(
        `assets[${ai}].ledgerDecimals: ${a.symbol} is kept with ${before.ledger_decimals} ledger decimals; changing it to ${a.ledgerDecimals} would rescale every stored balance and amount (never done by a file: it needs a data migration)`,
      );
    }
    const view = (ledgerDecimals: number, enabled: boolean) => ({ ledgerDecimals: String(ledgerDecimals), enabled: String(enabled) });
    // ledgerDecimals is refused above when it differs, so it never shows as an update.
    const ch = change('asset', a.symbol, a.symbol, view(a.ledgerDecimals, a.enabled), before && view(a.ledgerDecimals, Number(before.enabled) === 1));
    plan.changes.push(ch);
    if (ch.action !== 'unchanged') plan.writes.assets.push({ symbol: a.symbol, ledger_decimals: a.ledgerDecimals, enabled: a.enabled ? 1 : 0, exists: !!before });
  });

  file.assets.forEach((a, ai) =>
    a.networks.forEach((n, ni) => {
      const name = chainName(n.chainId);
      const key = `${a.symbol}@${n.chainId}`;
      if (name === undefined) {
        plan.problems.push(`assets[${ai}].networks[${ni}].chainId: chain ${n.chainId} is neither in this file's chains nor in the database`);
        return;
      }
      const row = state.networks.find((r) => r.asset === a.symbol && Number(r.chain_id) === n.chainId);
      const before = row && networkFromRow(row);
      const ch = change('asset network', key, key, networkView(n, a.ledgerDecimals, name), before && row && networkView(before, a.ledgerDecimals, row.chain_name));
      plan.changes.push(ch);
      if (ch.fields.some((f) => ['kind', 'contract', 'decimals'].includes(f.field))) {
        plan.guards.push({
          chainId: n.chainId,
          asset: a.symbol,
          problem: `assets[${ai}].networks[${ni}]: changing what ${key} pays with (kind, contract or decimals) while withdrawals are in flight would make the tracker look for the wrong payout`,
        });
      }
      if (ch.action !== 'unchanged') {
        plan.writes.networks.push({
          exists: !!row,
          values: networkRow({ ...n, asset: a.symbol, chainName: name }),
        });
      }
    }),
  );

  planWallets(file, state, plan, { ...options, now, knownChain: (id) => chainName(id) !== undefined });
  return plan;
}

function planWallets(file: DeploymentFile, state: DbState, plan: Plan, options: { force: boolean; now: number; knownChain: (id: number) => boolean }): void {
  // Matched case-insensitively: the address column is case-sensitive, and a second row for the same
  // address in another spelling would be a second nonce lane for one account (nonce collisions).
  const find = (w: FileWallet) => state.wallets.find((r) => Number(r.chain_id) === w.chainId && r.address.toLowerCase() === w.address.toLowerCase());
  const finalKeyRefs = new Map<string, { address: string; where: string }>();
  for (const r of state.wallets) finalKeyRefs.set(r.key_ref, { address: r.address.toLowerCase(), where: `wallet ${r.address}@${r.chain_id} in the database` });

  file.hotWallets.forEach((w, wi) => {
    const at = `hotWallets[${wi}]`;
    const key = `${w.address}@${w.chainId}`;
    if (!options.knownChain(w.chainId)) {
      plan.problems.push(`${at}.chainId: chain ${w.chainId} is neither in this file's chains nor in the database`);
      return;
    }
    const row = find(w);
    const notes: string[] = [];
    if (row && w.startNonce !== undefined && w.startNonce !== Number(row.next_nonce)) {
      notes.push(`startNonce ${w.startNonce} ignored: the lane already exists and is at nonce ${row.next_nonce} (a file never moves a lane's nonce)`);
    }
    if (row && row.key_ref !== w.keyRef && !options.force) {
      plan.problems.push(
        `${at}.keyRef: wallet ${key} is signed for with ${row.key_ref}; refusing to switch it to ${w.keyRef}. The key reference is the signing identity of this nonce lane: ` +
          `another key either cannot sign for ${w.address} at all or, if it is another copy of the same key, only then is the switch safe. Re-run with --force if it is the same key.`,
      );
    }
    const other = finalKeyRefs.get(w.keyRef);
    if (other && other.address !== w.address.toLowerCase()) {
      plan.problems.push(`${at}.keyRef: ${w.keyRef} is already the key of ${other.where}; one key has one address`);
    }
    finalKeyRefs.set(w.keyRef, { address: w.address.toLowerCase(), where: at });

    const view = (keyRef: string, enabled: boolean) => ({ keyRef, enabled: String(enabled) });
    const values = row ? view(w.keyRef, w.enabled) : { ...view(w.keyRef, w.enabled), startNonce: String(w.startNonce ?? 0) };
    const ch = change('wallet', key, key, values, row && view(row.key_ref, Number(row.enabled) === 1), notes);
    plan.changes.push(ch);
    if (!row) {
      plan.writes.walletInserts.push({
        chain_id: w.chainId,
        address: w.address,
        key_ref: w.keyRef,
        next_nonce: w.startNonce ?? 0,
        enabled: w.enabled ? 1 : 0,
        created_at: options.now,
      });
    } else if (ch.action === 'updated') {
      // Only key_ref and enabled: next_nonce belongs to the signer alone.
      plan.writes.walletUpdates.push({ chainId: w.chainId, address: row.address, keyRef: w.keyRef, enabled: w.enabled ? 1 : 0 });
    }
  });
}
