import type { FastifyInstance } from 'fastify';
import { formatUnits } from '../../money/decimal.js';
import type { Services } from '../../runtime/services.js';
import { problemResponses } from '../schemas.js';

export function registerAssetRoutes(app: FastifyInstance, services: Services) {
  app.get(
    '/v1/assets',
    {
      config: { scope: 'withdrawals:read' },
      schema: {
        tags: ['assets'],
        summary: 'Assets and the networks they can be withdrawn on',
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                asset: { type: 'string' },
                ledgerDecimals: { type: 'integer' },
                networks: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      chainId: { type: 'integer' },
                      chainName: { type: 'string' },
                      kind: { type: 'string', enum: ['native', 'erc20'] },
                      contract: { type: ['string', 'null'] },
                      decimals: { type: 'integer' },
                      withdrawalFee: { type: 'string' },
                      minAmount: { type: 'string' },
                      maxAmount: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
          ...problemResponses,
        },
      },
    },
    async () => {
      const byAsset = new Map<string, { asset: string; ledgerDecimals: number; networks: unknown[] }>();
      for (const n of await services.assets.all()) {
        if (!n.enabled) continue;
        const entry = byAsset.get(n.asset) ?? { asset: n.asset, ledgerDecimals: n.ledgerDecimals, networks: [] };
        const fmt = (v: bigint) => formatUnits(v, n.ledgerDecimals);
        entry.networks.push({
          chainId: n.chainId,
          chainName: n.chainName,
          kind: n.kind,
          contract: n.contract,
          decimals: n.decimals,
          withdrawalFee: fmt(n.withdrawalFee),
          minAmount: fmt(n.minAmount),
          maxAmount: fmt(n.maxAmount),
        });
        byAsset.set(n.asset, entry);
      }
      return [...byAsset.values()];
    },
  );
}
