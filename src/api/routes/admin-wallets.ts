import type { FastifyInstance } from 'fastify';
import { type Address, erc20Abi } from 'viem';
import { formatUnits, rescale } from '../../money/decimal.js';
import type { Services } from '../../runtime/services.js';
import { adminErrors } from './admin-common.js';

/** Below this many payouts' gas at the chain's fee cap, a wallet's native balance is low. */
const GAS_RESERVE = 1_000_000n;
const IN_FLIGHT = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING'] as const;

const walletSchema = {
  type: 'object',
  properties: {
    chainId: { type: 'integer' },
    chainName: { type: 'string' },
    address: { type: 'string' },
    keyScheme: { type: 'string', description: 'kms, secretsmanager or keystore' },
    enabled: { type: 'boolean' },
    native: { type: 'object', properties: { symbol: { type: 'string' }, balance: { type: ['string', 'null'] } } },
    tokens: { type: 'array', items: { type: 'object', properties: { asset: { type: 'string' }, balance: { type: ['string', 'null'] } } } },
    dbNextNonce: { type: 'integer' },
    chainNonceLatest: { type: ['integer', 'null'] },
    chainNoncePending: { type: ['integer', 'null'] },
    pendingCount: { type: 'integer', description: 'withdrawals holding a nonce of this wallet, not settled' },
    lowBalance: { type: 'boolean' },
    lowBalanceReason: { type: ['string', 'null'] },
    error: { type: 'string', description: 'the chain could not be read for this wallet' },
  },
} as const;

/**
 * Hot wallets as the chain sees them: balances (native and each token network of the chain),
 * database vs chain nonces, what is in flight, and a low-balance warning: native under a reserve of
 * gas at the fee cap, or a token under what its in-flight payouts need. A chain that does not
 * answer gives that wallet an `error`, never a 500.
 */
export function registerAdminWalletRoutes(app: FastifyInstance, services: Services) {
  const { db, assets, chains } = services;
  const k = db.kysely;

  app.get(
    '/admin/api/wallets',
    {
      config: { adminRole: 'viewer' },
      schema: { tags: ['admin'], summary: 'Hot wallets: balances, nonces, pending, low-balance warnings', response: { 200: { type: 'object', properties: { items: { type: 'array', items: walletSchema } } }, ...adminErrors } },
    },
    async () => {
      const [wallets, chainRows, networks, flights] = await Promise.all([
        k.selectFrom('wallets').selectAll().orderBy('chain_id').orderBy('address').execute(),
        k.selectFrom('chains').select(['chain_id', 'name', 'max_fee_per_gas']).execute(),
        assets.all(),
        k
          .selectFrom('withdrawals')
          .select(['chain_id', 'wallet', 'asset', 'amount'])
          .where('status', 'in', [...IN_FLIGHT])
          .where('wallet', 'is not', null)
          .limit(100_000)
          .execute(),
      ]);
      const chainInfo = new Map(chainRows.map((c) => [Number(c.chain_id), c]));
      const items = await Promise.all(
        wallets.map(async (w) => {
          const chainId = Number(w.chain_id);
          const address = w.address as Address;
          const lane = flights.filter((f) => Number(f.chain_id) === chainId && f.wallet?.toLowerCase() === w.address.toLowerCase());
          const chainNetworks = networks.filter((n) => n.chainId === chainId);
          const native = chainNetworks.find((n) => n.kind === 'native');
          const tokens = chainNetworks.filter((n) => n.kind === 'erc20' && n.contract);
          const colon = w.key_ref.indexOf(':');
          const base = {
            chainId,
            chainName: chainInfo.get(chainId)?.name ?? String(chainId),
            address: w.address,
            keyScheme: colon > 0 ? w.key_ref.slice(0, colon) : 'keystore',
            enabled: Number(w.enabled) === 1,
            dbNextNonce: Number(w.next_nonce),
            pendingCount: lane.length,
          };
          const empty = { native: { symbol: native?.asset ?? 'native', balance: null }, tokens: tokens.map((t) => ({ asset: t.asset, balance: null })), chainNonceLatest: null, chainNoncePending: null };
          const chain = chains.get(chainId);
          if (!chain) return { ...base, ...empty, lowBalance: false, lowBalanceReason: null, error: `no RPC endpoint for chain ${chainId} in this process` };
          try {
            const [nativeBalance, latest, pending, tokenBalances] = await Promise.all([
              chain.read((c) => c.getBalance({ address })),
              chain.transactionCount(address, 'latest'),
              chain.transactionCount(address, 'pending'),
              Promise.all(tokens.map((t) => chain.read((c) => c.readContract({ address: t.contract!, abi: erc20Abi, functionName: 'balanceOf', args: [address] })))),
            ]);
            const reasons: string[] = [];
            const cap = BigInt(chainInfo.get(chainId)?.max_fee_per_gas ?? '0');
            if (cap > 0n && nativeBalance < cap * GAS_RESERVE) reasons.push(`native balance is under ${formatUnits(cap * GAS_RESERVE, 18)} (gas for ~10 payouts at the fee cap)`);
            tokens.forEach((t, i) => {
              const needed = lane.filter((f) => f.asset === t.asset).reduce((sum, f) => sum + rescale(BigInt(f.amount), t.ledgerDecimals, t.decimals), 0n);
              if (tokenBalances[i]! < needed) reasons.push(`${t.asset} balance is under the ${formatUnits(needed, t.decimals)} its in-flight payouts need`);
            });
            return {
              ...base,
              native: { symbol: native?.asset ?? 'native', balance: formatUnits(nativeBalance, native?.decimals ?? 18) },
              tokens: tokens.map((t, i) => ({ asset: t.asset, balance: formatUnits(tokenBalances[i]!, t.decimals) })),
              chainNonceLatest: latest,
              chainNoncePending: pending,
              lowBalance: reasons.length > 0,
              lowBalanceReason: reasons.length > 0 ? reasons.join('; ') : null,
            };
          } catch (err) {
            return { ...base, ...empty, lowBalance: false, lowBalanceReason: null, error: `chain ${chainId} did not answer: ${((err as { shortMessage?: string }).shortMessage ?? (err as Error).message).split('\n')[0]}` };
          }
        }),
      );
      return { items };
    },
  );

  app.get(
    '/admin/api/endpoints',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'RPC endpoints as this API process sees them: state, head lag, latency, error rate',
        description: 'state: up, down (circuit open), half-open (probing), lagging (more than SLUICE_RPC_MAX_HEAD_LAG_BLOCKS behind the best head). URLs carry no credentials (scheme and host only).',
        response: {
          200: {
            type: 'object',
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    chainId: { type: 'integer' },
                    url: { type: 'string' },
                    weight: { type: 'number' },
                    state: { type: 'string', enum: ['up', 'down', 'half-open', 'lagging'] },
                    headBlock: { type: ['integer', 'null'] },
                    headLagBlocks: { type: ['integer', 'null'] },
                    latencyMs: { type: ['number', 'null'] },
                    errorRate: { type: 'number' },
                  },
                },
              },
            },
          },
          ...adminErrors,
        },
      },
    },
    async () => {
      const items = [];
      for (const [chainId, chain] of chains) {
        for (const e of chain.endpoints()) {
          items.push({
            chainId,
            url: e.url,
            weight: e.weight,
            state: e.state === 'open' ? 'down' : e.state,
            headBlock: e.head === null ? null : Number(e.head),
            headLagBlocks: e.lagBlocks,
            latencyMs: e.latencyMs,
            errorRate: e.errorRate,
          });
        }
      }
      return { items };
    },
  );
}
