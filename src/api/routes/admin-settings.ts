import type { FastifyInstance } from 'fastify';
import type { AssetNetworksTable, ChainsTable } from '../../db/schema.js';
import { withTransaction } from '../../db/transaction.js';
import { DecimalFormatError, formatUnits, parseUnits } from '../../money/decimal.js';
import type { Services } from '../../runtime/services.js';
import { type PauseScope, pauseReason } from '../../settings/pause.js';
import { ProblemError } from '../problem.js';
import { amountSchema, assetSchema } from '../schemas.js';
import { adminErrors, reasonSchema } from './admin-common.js';

const GWEI_DECIMALS = 9;
const gweiSchema = { type: 'string', pattern: '^[0-9]{1,12}(\\.[0-9]{1,9})?$', description: 'gwei, decimal string' } as const;
const chainIdParam = { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } as const;

const settingsSchema = {
  type: 'object',
  properties: {
    global: { type: 'object', properties: { paused: { type: 'boolean' }, pausedReason: { type: ['string', 'null'] }, pausedBy: { type: ['string', 'null'] }, pausedAt: { type: ['integer', 'null'] } } },
    chains: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          chainId: { type: 'integer' },
          name: { type: 'string' },
          confirmations: { type: 'integer' },
          maxFeePerGasGwei: { type: 'string' },
          maxPendingPerWallet: { type: 'integer' },
          explorerUrl: { type: ['string', 'null'] },
          paused: { type: 'boolean' },
          pausedReason: { type: ['string', 'null'] },
        },
      },
    },
    networks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          asset: { type: 'string' },
          chainId: { type: 'integer' },
          kind: { type: 'string' },
          enabled: { type: 'boolean' },
          paused: { type: 'boolean', description: 'this network, its chain, or everything is paused' },
          pausedReason: { type: ['string', 'null'] },
          minAmount: { type: 'string' },
          maxAmount: { type: 'string' },
          withdrawalFee: { type: 'string' },
        },
      },
    },
  },
} as const;

/**
 * Runtime settings kept in the database: per-chain confirmations and fee cap, per-network limits,
 * fee and switch, and the pause switches (the kill switch signers honour within
 * SLUICE_SETTINGS_CACHE_MS). Asset-network changes reach every process within the asset registry's
 * refresh (5 s); chain changes when a role starts (the RPC clients are built then).
 */
export function registerAdminSettingsRoutes(app: FastifyInstance, services: Services) {
  const { db, pauses, auditLog, assets } = services;
  const k = db.kysely;

  async function settings() {
    const [state, chains, networks, decimals] = await Promise.all([
      pauses.read(),
      k.selectFrom('chains').selectAll().orderBy('chain_id').execute(),
      k.selectFrom('asset_networks').selectAll().orderBy('asset').orderBy('chain_id').execute(),
      k.selectFrom('assets').select(['symbol', 'ledger_decimals']).execute(),
    ]);
    const decimalsOf = new Map(decimals.map((a) => [a.symbol, a.ledger_decimals]));
    return {
      global: { paused: state.global.paused, pausedReason: state.global.reason, pausedBy: state.global.by, pausedAt: state.global.at },
      chains: chains.map((c) => {
        const chainId = Number(c.chain_id);
        const pause = state.chains.get(chainId);
        return {
          chainId,
          name: c.name,
          confirmations: Number(c.confirmations),
          maxFeePerGasGwei: formatUnits(BigInt(c.max_fee_per_gas), GWEI_DECIMALS),
          maxPendingPerWallet: Number(c.max_pending_per_wallet),
          explorerUrl: c.explorer_url,
          paused: !!pause,
          pausedReason: pause?.reason ?? null,
        };
      }),
      networks: networks.map((n) => {
        const chainId = Number(n.chain_id);
        const d = decimalsOf.get(n.asset) ?? 0;
        const own = state.networks.get(`${n.asset}:${chainId}`);
        const reason = pauseReason(state, chainId, n.asset);
        return {
          asset: n.asset,
          chainId,
          kind: n.kind,
          enabled: Number(n.enabled) === 1,
          paused: reason !== null,
          pausedReason: own?.reason ?? reason,
          minAmount: formatUnits(BigInt(n.min_amount), d),
          maxAmount: formatUnits(BigInt(n.max_amount), d),
          withdrawalFee: formatUnits(BigInt(n.withdrawal_fee), d),
        };
      }),
    };
  }

  app.get('/admin/api/settings', { config: { adminRole: 'viewer' }, schema: { tags: ['admin'], summary: 'Chains, asset networks and pause switches', response: { 200: settingsSchema, ...adminErrors } } }, settings);

  app.patch<{ Params: { chainId: string }; Body: { confirmations?: number; maxFeePerGasGwei?: string; maxPendingPerWallet?: number; reason: string } }>(
    '/admin/api/settings/chains/:chainId',
    {
      config: { adminRole: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change a chain\'s confirmations, fee cap or per-wallet in-flight limit (running workers within 5 s)',
        params: { type: 'object', required: ['chainId'], properties: { chainId: chainIdParam } },
        body: {
          type: 'object',
          required: ['reason'],
          additionalProperties: false,
          properties: {
            confirmations: { type: 'integer', minimum: 1, maximum: 10_000 },
            maxFeePerGasGwei: gweiSchema,
            maxPendingPerWallet: { type: 'integer', minimum: 1, maximum: 10_000 },
            reason: reasonSchema,
          },
        },
        response: { 200: settingsSchema, ...adminErrors },
      },
    },
    async (request) => {
      const chainId = Number(request.params.chainId);
      const { confirmations, maxFeePerGasGwei, maxPendingPerWallet, reason } = request.body;
      await withTransaction(db, async (trx) => {
        const before = await trx.selectFrom('chains').selectAll().where('chain_id', '=', chainId).executeTakeFirst();
        if (!before) throw new ProblemError(404, 'chain_not_found', `No chain ${chainId}.`);
        const set: Partial<ChainsTable> = {};
        if (confirmations !== undefined) set.confirmations = confirmations;
        if (maxFeePerGasGwei !== undefined) set.max_fee_per_gas = parseUnits(maxFeePerGasGwei, GWEI_DECIMALS).toString();
        if (maxPendingPerWallet !== undefined) set.max_pending_per_wallet = maxPendingPerWallet;
        if (Object.keys(set).length > 0) await trx.updateTable('chains').set({ ...set, updated_at: Date.now() }).where('chain_id', '=', chainId).execute();
        const show = (c: Pick<ChainsTable, 'confirmations' | 'max_fee_per_gas' | 'max_pending_per_wallet'>) => ({
          confirmations: Number(c.confirmations),
          maxFeePerGasGwei: formatUnits(BigInt(c.max_fee_per_gas), GWEI_DECIMALS),
          maxPendingPerWallet: Number(c.max_pending_per_wallet),
        });
        await auditLog.record(trx, { actor: request.admin!.actor, action: 'settings.chain', targetType: 'chain', targetId: String(chainId), reason, before: show(before), after: show({ ...before, ...set }) });
      });
      return settings();
    },
  );

  app.patch<{ Params: { asset: string; chainId: string }; Body: { enabled?: boolean; minAmount?: string; maxAmount?: string; withdrawalFee?: string; reason: string } }>(
    '/admin/api/settings/networks/:asset/:chainId',
    {
      config: { adminRole: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change an asset network\'s switch, limits or fee (every process within seconds)',
        params: { type: 'object', required: ['asset', 'chainId'], properties: { asset: assetSchema, chainId: chainIdParam } },
        body: {
          type: 'object',
          required: ['reason'],
          additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, minAmount: amountSchema, maxAmount: amountSchema, withdrawalFee: amountSchema, reason: reasonSchema },
        },
        response: { 200: settingsSchema, ...adminErrors },
      },
    },
    async (request) => {
      const chainId = Number(request.params.chainId);
      const { asset } = request.params;
      const { reason, ...patch } = request.body;
      await withTransaction(db, async (trx) => {
        const before = await trx.selectFrom('asset_networks').selectAll().where('asset', '=', asset).where('chain_id', '=', chainId).executeTakeFirst();
        const a = await trx.selectFrom('assets').select('ledger_decimals').where('symbol', '=', asset).executeTakeFirst();
        if (!before || !a) throw new ProblemError(404, 'network_not_found', `${asset} is not withdrawable on chain ${chainId}.`);
        const d = a.ledger_decimals;
        const amount = (field: string, value: string | undefined, allowZero: boolean) => {
          if (value === undefined) return undefined;
          try {
            const v = parseUnits(value, d);
            if (v < 0n || (!allowZero && v === 0n)) throw new ProblemError(400, 'invalid_amount', `${field} must be ${allowZero ? 'zero or more' : 'positive'}.`, { field });
            return v.toString();
          } catch (err) {
            if (err instanceof DecimalFormatError) throw new ProblemError(400, err.reason === 'too_many_decimals' ? 'too_many_decimals' : 'invalid_amount', `${field}: ${err.message}.`, { field });
            throw err;
          }
        };
        const set: Partial<AssetNetworksTable> = {};
        if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
        const min = amount('minAmount', patch.minAmount, true);
        const max = amount('maxAmount', patch.maxAmount, false);
        const fee = amount('withdrawalFee', patch.withdrawalFee, true);
        if (min !== undefined) set.min_amount = min;
        if (max !== undefined) set.max_amount = max;
        if (fee !== undefined) set.withdrawal_fee = fee;
        const after = { ...before, ...set };
        if (BigInt(after.min_amount) > BigInt(after.max_amount)) throw new ProblemError(400, 'invalid_limits', 'minAmount is above maxAmount.');
        if (Object.keys(set).length > 0) await trx.updateTable('asset_networks').set(set).where('asset', '=', asset).where('chain_id', '=', chainId).execute();
        const show = (n: AssetNetworksTable) => ({
          enabled: Number(n.enabled) === 1,
          minAmount: formatUnits(BigInt(n.min_amount), d),
          maxAmount: formatUnits(BigInt(n.max_amount), d),
          withdrawalFee: formatUnits(BigInt(n.withdrawal_fee), d),
        });
        await auditLog.record(trx, { actor: request.admin!.actor, action: 'settings.network', targetType: 'asset_network', targetId: `${asset}:${chainId}`, reason, before: show(before), after: show(after) });
      });
      assets.invalidate();
      return settings();
    },
  );

  app.post<{ Body: { scope: 'global' | 'chain' | 'network'; chainId?: number; asset?: string; paused: boolean; reason: string } }>(
    '/admin/api/pause',
    {
      config: { adminRole: 'operator' },
      schema: {
        tags: ['admin'],
        summary: 'Pause or resume everything, one chain, or one asset network (kill switch)',
        description:
          'Paused withdrawals wait: they stay RECEIVED with failureCode "paused" and go on by themselves after the pause is lifted; nothing is rejected. Signers honour a pause within SLUICE_SETTINGS_CACHE_MS (≤ 1 s). Transactions already signed are still broadcast and tracked.',
        body: {
          type: 'object',
          required: ['scope', 'paused', 'reason'],
          additionalProperties: false,
          properties: {
            scope: { type: 'string', enum: ['global', 'chain', 'network'] },
            chainId: { type: 'integer', minimum: 1, maximum: 2 ** 48 },
            asset: assetSchema,
            paused: { type: 'boolean' },
            reason: reasonSchema,
          },
        },
        response: { 200: settingsSchema, ...adminErrors },
      },
    },
    async (request) => {
      const b = request.body;
      let scope: PauseScope;
      if (b.scope === 'global') scope = { scope: 'global' };
      else if (b.chainId === undefined) throw new ProblemError(400, 'invalid_request', `A ${b.scope} pause needs chainId.`, { field: 'chainId' });
      else if (b.scope === 'chain') scope = { scope: 'chain', chainId: b.chainId };
      else if (!b.asset) throw new ProblemError(400, 'invalid_request', 'A network pause needs asset.', { field: 'asset' });
      else scope = { scope: 'network', chainId: b.chainId, asset: b.asset };
      await pauses.set(scope, b.paused, { actor: request.admin!.actor, reason: b.reason, auditLog });
      return settings();
    },
  );
}

