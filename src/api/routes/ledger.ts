import type { FastifyInstance } from 'fastify';
import { BalanceLimitError, InsufficientBalanceError, ReferenceConflictError } from '../../ledger/errors.js';
import { DecimalFormatError, formatUnits, MAX_LEDGER_UNITS, parseUnits } from '../../money/decimal.js';
import type { Services } from '../../runtime/services.js';
import { ProblemError } from '../problem.js';
import { amountSchema, assetSchema, problemResponses, userIdSchema } from '../schemas.js';

const movementBody = {
  type: 'object',
  required: ['userId', 'asset', 'amount', 'reference'],
  additionalProperties: false,
  properties: {
    userId: userIdSchema,
    asset: assetSchema,
    amount: amountSchema,
    reference: { type: 'string', minLength: 1, maxLength: 128, description: 'Your unique id for this movement; repeats are idempotent' },
  },
} as const;

const balanceSchema = {
  type: 'object',
  properties: { asset: { type: 'string' }, available: { type: 'string' }, held: { type: 'string' } },
} as const;

const movementResponse = {
  type: 'object',
  properties: {
    journalId: { type: 'string' },
    userId: { type: 'string' },
    asset: { type: 'string' },
    amount: { type: 'string' },
    reference: { type: 'string' },
    balance: balanceSchema,
  },
} as const;

type MovementBody = { userId: string; asset: string; amount: string; reference: string };

export async function parseAssetAmount(services: Services, asset: string, amount: string): Promise<{ decimals: number; value: bigint }> {
  const decimals = await services.assets.ledgerDecimals(asset);
  if (decimals === undefined) throw new ProblemError(422, 'unknown_asset', `Unknown asset "${asset}".`);
  let value: bigint;
  try {
    value = parseUnits(amount, decimals);
  } catch (err) {
    if (err instanceof DecimalFormatError && err.reason === 'too_many_decimals') {
      throw new ProblemError(400, 'too_many_decimals', `${asset} amounts have at most ${decimals} decimals.`);
    }
    throw new ProblemError(400, 'invalid_amount', 'amount must be a positive decimal string such as "1.5".');
  }
  if (value <= 0n) throw new ProblemError(400, 'invalid_amount', 'amount must be greater than zero.');
  if (value > MAX_LEDGER_UNITS) {
    throw new ProblemError(400, 'amount_too_large', `amount is larger than any amount Sluice stores (at most ${formatUnits(MAX_LEDGER_UNITS, decimals)} ${asset}).`);
  }
  return { decimals, value };
}

export function registerLedgerRoutes(app: FastifyInstance, services: Services) {
  for (const kind of ['credit', 'debit'] as const) {
    app.post<{ Body: MovementBody }>(
      `/v1/ledger/${kind}s`,
      {
        config: { scope: 'ledger:write' },
        schema: {
          tags: ['ledger'],
          summary: kind === 'credit' ? "Add to a user's withdrawable balance" : "Take from a user's withdrawable balance",
          body: movementBody,
          response: { 200: movementResponse, 201: movementResponse, ...problemResponses, 409: { $ref: 'Problem#' }, 422: { $ref: 'Problem#' } },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const { decimals, value } = await parseAssetAmount(services, body.asset, body.amount);
        try {
          const result = await services.ledger[kind]({ userId: body.userId, asset: body.asset, amount: value, reference: body.reference });
          if (result.replayed) reply.header('Idempotent-Replayed', 'true');
          return reply.code(result.replayed ? 200 : 201).send({
            journalId: result.journalId,
            userId: body.userId,
            asset: body.asset,
            amount: formatUnits(value, decimals),
            reference: body.reference,
            balance: {
              asset: body.asset,
              available: formatUnits(result.balance.available, decimals),
              held: formatUnits(result.balance.held, decimals),
            },
          });
        } catch (err) {
          if (err instanceof InsufficientBalanceError) throw new ProblemError(409, err.code, err.shortMessage);
          if (err instanceof ReferenceConflictError) throw new ProblemError(409, err.code, err.shortMessage);
          if (err instanceof BalanceLimitError) throw new ProblemError(409, err.code, err.shortMessage);
          throw err;
        }
      },
    );
  }

  app.get<{ Params: { userId: string } }>(
    '/v1/users/:userId/balances',
    {
      config: { scope: 'ledger:read' },
      schema: {
        tags: ['ledger'],
        summary: "A user's available and held balance per asset",
        params: { type: 'object', properties: { userId: userIdSchema }, required: ['userId'] },
        response: { 200: { type: 'array', items: balanceSchema }, ...problemResponses },
      },
    },
    async (request) => {
      const balances = await services.ledger.balances(request.params.userId);
      return Promise.all(
        balances.map(async (b) => {
          const decimals = (await services.assets.ledgerDecimals(b.asset)) ?? 0;
          return { asset: b.asset, available: formatUnits(b.available, decimals), held: formatUnits(b.held, decimals) };
        }),
      );
    },
  );
}
