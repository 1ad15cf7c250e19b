import type { FastifyInstance } from 'fastify';
import { getAddress, isAddress } from 'viem';
import type { WithdrawalStatus } from '../../db/schema.js';
import { formatUnits } from '../../money/decimal.js';
import type { Services } from '../../runtime/services.js';
import type { AttemptRow } from '../../withdrawals/attempts.js';
import type { WithdrawalRow } from '../../withdrawals/repository.js';
import { ProblemError } from '../problem.js';
import { assetSchema, userIdSchema } from '../schemas.js';
import { adminWithdrawalSchema, adminWithdrawalView, attemptSchema, attemptView, WITHDRAWAL_STATUSES } from '../withdrawal-views.js';
import { adminErrors, cursorSchema, decodeCursor, encodeCursor, limitSchema, msSchema, pageLimit } from './admin-common.js';

type SearchQuery = {
  id?: string;
  userId?: string;
  toAddress?: string;
  txHash?: string;
  status?: WithdrawalStatus;
  asset?: string;
  chainId?: string;
  from?: string;
  to?: string;
  limit?: string;
  cursor?: string;
};

const msParam = { type: 'string', pattern: '^[0-9]{1,15}$', description: 'epoch milliseconds' } as const;
const ID_PATTERN = /^wd_[0-9A-Z]{26}$/;

/**
 * Console withdrawal search and a withdrawal's whole story. Newest first by id (ids are
 * time-ordered); each filter is backed by an index (migration 006), so pages stay cheap on a
 * table of millions.
 */
export function registerAdminWithdrawalRoutes(app: FastifyInstance, services: Services) {
  const { db, assets } = services;
  const k = db.kysely;

  const decimalsOf = async (asset: string) => (await assets.ledgerDecimals(asset)) ?? 0;

  app.get<{ Querystring: SearchQuery }>(
    '/admin/api/withdrawals',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'Search withdrawals, newest first',
        description: 'Filters combine (AND). txHash matches any tx signed for a withdrawal (payout, bump or cancel). from/to bound createdAt (epoch ms, to exclusive).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            id: { type: 'string', maxLength: 64 },
            userId: userIdSchema,
            toAddress: { type: 'string', maxLength: 64 },
            txHash: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' },
            status: { type: 'string', enum: WITHDRAWAL_STATUSES },
            asset: assetSchema,
            chainId: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' },
            from: msParam,
            to: msParam,
            limit: limitSchema,
            cursor: cursorSchema,
          },
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: adminWithdrawalSchema }, nextCursor: { type: ['string', 'null'] } } }, ...adminErrors },
      },
    },
    async (request) => {
      const f = request.query;
      const limit = pageLimit(f.limit);
      const before = decodeCursor('wd', f.cursor, ID_PATTERN);
      let q = k.selectFrom('withdrawals').selectAll().orderBy('id', 'desc').limit(limit + 1);
      if (f.id) q = q.where('id', '=', f.id);
      if (f.txHash) {
        const hash = f.txHash.toLowerCase();
        const attempt = await k.selectFrom('tx_attempts').select('withdrawal_id').where('tx_hash', '=', hash).executeTakeFirst();
        if (!attempt) return { items: [], nextCursor: null };
        q = q.where('id', '=', attempt.withdrawal_id);
      }
      if (f.userId) q = q.where('user_id', '=', f.userId);
      if (f.toAddress) {
        // Stored as the client sent it (checksummed or lower case): match either spelling.
        const spellings = new Set([f.toAddress, f.toAddress.toLowerCase()]);
        if (isAddress(f.toAddress, { strict: false })) spellings.add(getAddress(f.toAddress));
        q = q.where('to_address', 'in', [...spellings]);
      }
      if (f.status) q = q.where('status', '=', f.status);
      if (f.asset) q = q.where('asset', '=', f.asset);
      if (f.chainId) q = q.where('chain_id', '=', Number(f.chainId));
      if (f.from) q = q.where('created_at', '>=', Number(f.from));
      if (f.to) q = q.where('created_at', '<', Number(f.to));
      if (before) q = q.where('id', '<', before);
      const rows = (await q.execute()) as WithdrawalRow[];
      const page = rows.slice(0, limit);
      const items = [];
      for (const r of page) items.push(adminWithdrawalView(r, await decimalsOf(r.asset)));
      return { items, nextCursor: rows.length > limit ? encodeCursor('wd', page[page.length - 1]!.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/api/withdrawals/:id',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'A withdrawal\'s timeline: every state change, every tx attempt, its ledger entries',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: {
          200: {
            type: 'object',
            properties: {
              withdrawal: adminWithdrawalSchema,
              events: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { fromStatus: { type: ['string', 'null'] }, toStatus: { type: 'string' }, code: { type: ['string', 'null'] }, detail: { type: ['string', 'null'] }, createdAt: msSchema },
                },
              },
              attempts: { type: 'array', items: attemptSchema },
              ledgerEntries: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { kind: { type: 'string' }, account: { type: 'string' }, amount: { type: 'string', description: 'signed, asset units' }, createdAt: msSchema, reference: { type: 'string' } },
                },
              },
              explorer: { type: 'object', properties: { txUrlTemplate: { type: ['string', 'null'], description: 'replace {hash} with a tx hash' } } },
            },
          },
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const w = (await k.selectFrom('withdrawals').selectAll().where('id', '=', request.params.id).executeTakeFirst()) as WithdrawalRow | undefined;
      if (!w) throw new ProblemError(404, 'withdrawal_not_found', `No withdrawal ${request.params.id}.`);
      const decimals = await decimalsOf(w.asset);
      const [events, attempts, entries, chain] = await Promise.all([
        k.selectFrom('withdrawal_events').selectAll().where('withdrawal_id', '=', w.id).orderBy('id').execute(),
        k.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', w.id).orderBy('id').execute(),
        k.selectFrom('ledger_entries').selectAll().where('withdrawal_id', '=', w.id).orderBy('id').execute(),
        k.selectFrom('chains').select('explorer_url').where('chain_id', '=', w.chain_id).executeTakeFirst(),
      ]);
      const explorer = chain?.explorer_url ? chain.explorer_url.replace(/\/+$/, '') : null;
      return {
        withdrawal: adminWithdrawalView(w, decimals),
        events: events.map((e) => ({ fromStatus: e.from_status, toStatus: e.to_status, code: e.code, detail: e.detail, createdAt: Number(e.created_at) })),
        attempts: (attempts as AttemptRow[]).map(attemptView),
        ledgerEntries: entries.map((e) => ({ kind: e.kind, account: e.account, amount: formatUnits(BigInt(e.amount), decimals), createdAt: Number(e.created_at), reference: e.reference })),
        explorer: { txUrlTemplate: explorer ? `${explorer}/tx/{hash}` : null },
      };
    },
  );
}
