import type { FastifyInstance } from 'fastify';
import { formatUnits } from '../../money/decimal.js';
import type { Services } from '../../runtime/services.js';
import { ProblemError } from '../problem.js';
import { userIdSchema } from '../schemas.js';
import { adminErrors, cursorSchema, decodeCursor, encodeCursor, limitSchema, msSchema, pageLimit } from './admin-common.js';

/** A platform user's balances and ledger history (their own accounts' entries, newest first). */
export function registerAdminUserRoutes(app: FastifyInstance, services: Services) {
  const { db, ledger } = services;
  const k = db.kysely;

  app.get<{ Params: { userId: string }; Querystring: { limit?: string; cursor?: string } }>(
    '/admin/api/users/:userId',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'A user\'s balances and ledger entries',
        params: { type: 'object', required: ['userId'], properties: { userId: userIdSchema } },
        querystring: { type: 'object', additionalProperties: false, properties: { limit: limitSchema, cursor: cursorSchema } },
        response: {
          200: {
            type: 'object',
            properties: {
              userId: { type: 'string' },
              balances: { type: 'array', items: { type: 'object', properties: { asset: { type: 'string' }, available: { type: 'string' }, held: { type: 'string' } } } },
              ledger: {
                type: 'object',
                properties: {
                  items: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        id: { type: 'integer' },
                        asset: { type: 'string' },
                        account: { type: 'string', description: 'available or held' },
                        kind: { type: 'string' },
                        amount: { type: 'string', description: 'signed, asset units' },
                        reference: { type: 'string' },
                        withdrawalId: { type: ['string', 'null'] },
                        createdAt: msSchema,
                      },
                    },
                  },
                  nextCursor: { type: ['string', 'null'] },
                },
              },
            },
          },
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      const limit = pageLimit(request.query.limit);
      const before = decodeCursor('le', request.query.cursor, /^[1-9][0-9]{0,17}$/);
      const [balances, decimals] = await Promise.all([ledger.balances(userId), k.selectFrom('assets').select(['symbol', 'ledger_decimals']).execute()]);
      const decimalsOf = new Map(decimals.map((a) => [a.symbol, a.ledger_decimals]));
      let q = k.selectFrom('ledger_entries').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').limit(limit + 1);
      if (before) q = q.where('id', '<', Number(before));
      const rows = await q.execute();
      const page = rows.slice(0, limit);
      if (balances.length === 0 && page.length === 0 && !before) throw new ProblemError(404, 'user_not_found', `No balances or ledger entries for user ${userId}.`);
      return {
        userId,
        balances: balances.map((b) => ({ asset: b.asset, available: formatUnits(b.available, decimalsOf.get(b.asset) ?? 0), held: formatUnits(b.held, decimalsOf.get(b.asset) ?? 0) })),
        ledger: {
          items: page.map((e) => ({
            id: Number(e.id),
            asset: e.asset,
            account: e.account.endsWith(':held') ? 'held' : 'available',
            kind: e.kind,
            amount: formatUnits(BigInt(e.amount), decimalsOf.get(e.asset) ?? 0),
            reference: e.reference,
            withdrawalId: e.withdrawal_id,
            createdAt: Number(e.created_at),
          })),
          nextCursor: rows.length > limit ? encodeCursor('le', Number(page[page.length - 1]!.id)) : null,
        },
      };
    },
  );
}
