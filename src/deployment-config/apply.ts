import type { Kysely } from 'kysely';
import { chainFromRow, writeChain } from '../chain/chain-registry.js';
import type { Db } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import { lockForUpdate, type Tx, withTransaction } from '../db/transaction.js';
import { type Change, type DbState, type InFlightGuard, type Plan, planDeployment } from './diff.js';
import { DeploymentConfigError } from './errors.js';
import { parseDeploymentYaml, readDeploymentFile } from './read.js';
import type { DeploymentFile } from './schema.js';

export type { Change, ChangeAction, ChangeEntity, FieldChange } from './diff.js';

export type ApplyDeploymentInput = {
  db: Db;
  /** Path of the YAML file; or `text`, the YAML itself; or `config`, already parsed. */
  file?: string;
  text?: string;
  config?: DeploymentFile;
  /** Compute and return the diff, write nothing. */
  dryRun?: boolean;
  /** Allow the refusals that can be overridden: a wallet's keyRef, changes under in-flight withdrawals. */
  force?: boolean;
  /** Who applies it, for the audit log. */
  actor?: string;
};

const IN_FLIGHT = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING'] as const;

/**
 * `sluice config apply`: brings the chains, assets, asset networks and hot wallets the file names
 * to what it says, in one transaction, and returns the diff. Idempotent. Nothing the file omits is
 * deleted (disable it instead). A refused change or an invalid file changes nothing.
 */
export async function applyDeploymentConfig(input: ApplyDeploymentInput): Promise<{ changes: Change[]; dryRun: boolean }> {
  const file = deploymentFile(input);
  const dryRun = input.dryRun ?? false;
  const force = input.force ?? false;
  const changes = await withTransaction(input.db, async (trx) => {
    const plan = planDeployment(file, await readState(input.db, trx), { force });
    if (!force) plan.problems.push(...(await inFlightProblems(trx, plan.guards)));
    if (plan.problems.length > 0) {
      throw new DeploymentConfigError(
        'The deployment file asks for changes that are refused; nothing was changed.',
        plan.problems,
        'deployment_change_refused',
      );
    }
    if (!dryRun) await write(trx, plan, input.actor ?? 'cli:config-apply');
    return plan.changes;
  });
  return { changes, dryRun };
}

function deploymentFile(input: ApplyDeploymentInput): DeploymentFile {
  if (input.config) return input.config;
  if (input.text !== undefined) return parseDeploymentYaml(input.text, input.file ?? 'deployment config');
  if (input.file !== undefined) return readDeploymentFile(input.file);
  throw new TypeError('applyDeploymentConfig needs file, text or config');
}

/**
 * Locked reads (MySQL): a second `config apply` running at the same time waits for this one
 * instead of diffing against rows about to change, and cannot insert the same new row in between.
 */
async function readState(db: Db, trx: Tx): Promise<DbState> {
  const [chains, assets, networks, wallets] = [
    await lockForUpdate(db, trx.selectFrom('chains').selectAll().orderBy('chain_id')).execute(),
    await lockForUpdate(db, trx.selectFrom('assets').selectAll().orderBy('symbol')).execute(),
    await lockForUpdate(db, trx.selectFrom('asset_networks').selectAll().orderBy('asset').orderBy('chain_id')).execute(),
    await lockForUpdate(db, trx.selectFrom('wallets').selectAll().orderBy('chain_id').orderBy('address')).execute(),
  ];
  return { chains: chains.map((r) => chainFromRow(r, { unusableRpc: 'empty' })), assets, networks, wallets };
}

async function inFlightProblems(trx: Tx, guards: InFlightGuard[]): Promise<string[]> {
  const problems: string[] = [];
  for (const g of guards) {
    let q = trx
      .selectFrom('withdrawals')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', 'in', [...IN_FLIGHT])
      .where('chain_id', '=', g.chainId);
    if (g.asset) q = q.where('asset', '=', g.asset);
    const n = Number((await q.executeTakeFirstOrThrow()).n);
    if (n > 0) problems.push(`${g.problem} (${n} in flight now; wait for them or re-run with --force)`);
  }
  return problems;
}

async function write(trx: Kysely<Database>, plan: Plan, actor: string): Promise<void> {
  const now = Date.now();
  const { writes } = plan;
  for (const chain of writes.chains) await writeChain(trx, chain, now);
  for (const { exists, ...a } of writes.assets) {
    if (exists) await trx.updateTable('assets').set({ enabled: a.enabled }).where('symbol', '=', a.symbol).execute();
    else await trx.insertInto('assets').values(a).execute();
  }
  for (const { exists, values } of writes.networks) {
    if (!exists) await trx.insertInto('asset_networks').values(values).execute();
    else await trx.updateTable('asset_networks').set(values).where('asset', '=', values.asset).where('chain_id', '=', values.chain_id).execute();
  }
  if (writes.walletInserts.length > 0) await trx.insertInto('wallets').values(writes.walletInserts).execute();
  for (const w of writes.walletUpdates) {
    await trx
      .updateTable('wallets')
      .set({ key_ref: w.keyRef, enabled: w.enabled })
      .where('chain_id', '=', w.chainId)
      .where('address', '=', w.address)
      .execute();
  }

  // One audit entry per created or updated thing, in the same transaction as the change.
  const audited = plan.changes.filter((c) => c.action !== 'unchanged');
  if (audited.length > 0) {
    await trx
      .insertInto('audit_log')
      .values(
        audited.map((c) => ({
          actor,
          action: `${c.entity.replace(' ', '_')}.${c.action === 'created' ? 'create' : 'update'}`,
          target_type: c.entity.replace(' ', '_'),
          target_id: c.key.slice(0, 64),
          reason: 'sluice config apply',
          before_state: c.action === 'created' ? null : JSON.stringify(Object.fromEntries(c.fields.map((f) => [f.field, f.before]))),
          after_state: JSON.stringify(c.action === 'created' ? c.values : Object.fromEntries(c.fields.map((f) => [f.field, f.after]))),
          created_at: now,
        })),
      )
      .execute();
  }
}
