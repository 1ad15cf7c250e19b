import { hash as hashOnce } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AssetNetwork } from '../../assets/registry.js';
import type { WithdrawalStatus } from '../../db/schema.js';
import type { Services } from '../../runtime/services.js';
import { IdempotencyKeyReusedError } from '../../withdrawals/errors.js';
import { createAttempts } from '../../withdrawals/attempts.js';
import type { WithdrawalRow } from '../../withdrawals/repository.js';
import { SETTLED_VIEW_TTL_MS, settledViewKey } from '../../withdrawals/settled-view-cache.js';
import { checkAddress, checkAmount, isProblem } from '../../withdrawals/validate.js';
import { ProblemError } from '../problem.js';
import { attemptSchema, attemptView, WITHDRAWAL_STATUSES, withdrawalProperties, withdrawalSchema, withdrawalView } from '../withdrawal-views.js';
import { addressSchema, amountSchema, assetSchema, chainIdSchema, problemResponses, userIdSchema } from '../schemas.js';

/** Settled states: only a reorg deeper than the required confirmations moves a withdrawal out of one (the tracker's `reopen`). */
const SETTLED = new Set<WithdrawalStatus>(['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED']);




const withdrawalDetailSchema = {
  type: 'object',
  properties: {
    ...withdrawalProperties,
    attempts: { type: 'array', items: attemptSchema, description: 'Every transaction signed for this withdrawal, oldest first; txHash above is the one mined, once one is.' },
  },
} as const;

type CreateBody = { userId: string; asset: string; chainId: number; toAddress: string; amount: string };

/** Same body -> same hash, whatever the key order the client serialized. */
function requestHash(body: CreateBody): string {
  const canonical = JSON.stringify([body.userId, body.asset, body.chainId, body.toAddress, body.amount]);
  return hashOnce('sha256', canonical, 'hex');
}

export function registerWithdrawalRoutes(app: FastifyInstance, services: Services) {
  const { withdrawals, assets, common } = services;
  const attemptStore = createAttempts(services.db);

  async function render(row: WithdrawalRow) {
    return toResponse(row, (await assets.ledgerDecimals(row.asset)) ?? 0);
  }

  app.post<{ Body: CreateBody; Headers: { 'idempotency-key': string } }>(
    '/v1/withdrawals',
    {
      config: { scope: 'withdrawals:write' },
      schema: {
        tags: ['withdrawals'],
        summary: 'Request a withdrawal',
        description: 'Stores the request and queues it for signing; answers 202. Repeat with the same Idempotency-Key to get the same answer.',
        headers: {
          type: 'object',
          required: ['idempotency-key'],
          properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' } },
        },
        body: {
          type: 'object',
          required: ['userId', 'asset', 'chainId', 'toAddress', 'amount'],
          additionalProperties: false,
          properties: { userId: userIdSchema, asset: assetSchema, chainId: chainIdSchema, toAddress: addressSchema, amount: amountSchema },
        },
        response: { 202: withdrawalSchema, ...problemResponses, 422: { $ref: 'Problem#' } },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const key = request.headers['idempotency-key'];
      const hash = requestHash(body);

      const checked = await validate(body);
      if (checked instanceof ProblemError) {
        // A replay of a request accepted earlier still gets its first answer, even if limits changed since.
        const existing = await withdrawals.byIdempotencyKey(request.apiKey!.id, key);
        if (existing?.request_hash === hash) return replay(reply, existing.create_response);
        throw checked;
      }
      const { network, amount, fee } = checked;

      let result;
      try {
        result = await services.withdrawalIntake.create(
          {
            idempotencyKey: key,
            requestHash: hash,
            apiKeyId: request.apiKey!.id,
            userId: body.userId,
            asset: body.asset,
            chainId: body.chainId,
            toAddress: body.toAddress,
            amount,
            fee,
          },
          (row) => toResponse(row, network.ledgerDecimals),
        );
      } catch (err) {
        if (err instanceof IdempotencyKeyReusedError) throw new ProblemError(422, err.code, err.shortMessage);
        throw err;
      }
      if (result.replayed) return replay(reply, result.row.create_response);

      common.metrics.withdrawalsCreated.inc({ asset: body.asset, chain_id: String(body.chainId) });
      // Debug: at thousands a second, one line per request costs more than the request. The intake
      // logs one info line per committed batch with every withdrawalId in it.
      request.log.debug({ withdrawalId: result.row.id, userId: body.userId, asset: body.asset, chainId: body.chainId }, 'withdrawal received');
      return sendStored(reply, result.row.create_response);
    },
  );

  function replay(reply: import('fastify').FastifyReply, createResponse: string) {
    return sendStored(reply.header('Idempotent-Replayed', 'true'), createResponse);
  }

  /**
   * The 202 body is the JSON stored with the row (`create_response`), sent as it is: every answer
   * to a key, first or replayed, is the same bytes, and none is serialised twice.
   */
  function sendStored(reply: import('fastify').FastifyReply, createResponse: string) {
    return reply.code(202).type('application/json; charset=utf-8').send(createResponse);
  }

  const toResponse = withdrawalView;

  /** The request's problem, or its network and amounts in ledger units. Assets come from the in-memory registry. */
  async function validate(body: CreateBody): Promise<ProblemError | { network: AssetNetwork; amount: bigint; fee: bigint }> {
    const addressProblem = checkAddress(body.toAddress);
    if (addressProblem) return new ProblemError(400, addressProblem.code, addressProblem.message);
    const network = await assets.find(body.asset, body.chainId);
    if (!network) {
      if ((await assets.ledgerDecimals(body.asset)) === undefined) {
        return new ProblemError(422, 'unknown_asset', `Unknown asset "${body.asset}". See GET /v1/assets.`);
      }
      return new ProblemError(422, 'unsupported_network', `${body.asset} cannot be withdrawn on chain ${body.chainId}.`);
    }
    if (!network.enabled) return new ProblemError(422, 'network_disabled', `${body.asset} withdrawals on chain ${body.chainId} are paused.`);
    const checked = checkAmount(body.amount, network);
    if (isProblem(checked)) {
      const status = checked.code === 'amount_below_minimum' || checked.code === 'amount_above_maximum' ? 422 : 400;
      return new ProblemError(status, checked.code, checked.message);
    }
    return { network, ...checked };
  }

  app.get<{ Params: { id: string } }>(
    '/v1/withdrawals/:id',
    {
      config: { scope: 'withdrawals:read' },
      schema: {
        tags: ['withdrawals'],
        summary: 'One withdrawal and its current status',
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] },
        response: { 200: withdrawalDetailSchema, ...problemResponses, 404: { $ref: 'Problem#' } },
      },
    },
    async (request) => {
      // Clients poll this. A settled withdrawal does not change again (a reopened one has its view
      // dropped by the tracker), so its view is served from the shared cache; an unsettled one
      // always from the database (a cached status could be stale).
      const cacheKey = settledViewKey(request.params.id);
      const cached = await services.cache.get(cacheKey);
      if (cached) return JSON.parse(cached) as unknown;
      const row = await withdrawals.get(request.params.id);
      if (!row) throw new ProblemError(404, 'withdrawal_not_found', `No withdrawal ${request.params.id}.`);
      const attempts = await attemptStore.of(row.id);
      const view = { ...(await render(row)), attempts: attempts.map(attemptView) };
      if (SETTLED.has(row.status)) await services.cache.set(cacheKey, JSON.stringify(view), SETTLED_VIEW_TTL_MS);
      return view;
    },
  );

  app.get<{ Querystring: { userId?: string; status?: WithdrawalStatus; limit?: string; cursor?: string } }>(
    '/v1/withdrawals',
    {
      config: { scope: 'withdrawals:read' },
      schema: {
        tags: ['withdrawals'],
        summary: 'Withdrawals, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            userId: userIdSchema,
            status: { type: 'string', enum: WITHDRAWAL_STATUSES },
            limit: { type: 'string', pattern: '^(?:[1-9]\\d?|1\\d\\d|200)$', description: '1-200, default 50' },
            cursor: { type: 'string', maxLength: 200, description: 'nextCursor from the previous page' },
          },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: withdrawalSchema }, nextCursor: { type: ['string', 'null'] } } },
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = Number(q.limit ?? '50');
      let before: string | undefined;
      if (q.cursor) {
        before = Buffer.from(q.cursor, 'base64url').toString('utf8');
        if (!/^wd_[0-9A-Z]{26}$/.test(before)) throw new ProblemError(400, 'invalid_cursor', 'cursor is not one this API returned.');
      }
      const rows = await withdrawals.list({
        limit: limit + 1,
        ...(q.userId ? { userId: q.userId } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(before ? { before } : {}),
      });
      const page = rows.slice(0, limit);
      const nextCursor = rows.length > limit ? Buffer.from(page[page.length - 1]!.id).toString('base64url') : null;
      return { items: await Promise.all(page.map(render)), nextCursor };
    },
  );
}
