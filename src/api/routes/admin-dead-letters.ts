import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditRecord } from '../../audit/audit-log.js';
import type { WithdrawalStatus } from '../../db/schema.js';
import { deadLetterConsequences } from '../../dlq/consequences.js';
import { DeadLetterActionError, type DeadLetterRow, type DeadLetterStatus } from '../../dlq/dead-letter-actions.js';
import type { DeadLetterQueueName } from '../../dlq/dead-letters.js';
import type { Services } from '../../runtime/services.js';
import type { WithdrawalRow } from '../../withdrawals/repository.js';
import { ProblemError } from '../problem.js';
import { problemResponses } from '../schemas.js';
import { adminWithdrawalSchema, adminWithdrawalView, attemptSchema, attemptView, iso, WITHDRAWAL_STATUSES } from '../withdrawal-views.js';

const LETTER_STATUSES: DeadLetterStatus[] = ['open', 'retried', 'discarded'];
const QUEUES: DeadLetterQueueName[] = ['invalid', 'tx'];

const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;

const letterProperties = {
  id: { type: 'integer' },
  queue: { type: 'string', enum: QUEUES, description: 'invalid: a request the signer refused; tx: a transaction a node refused for good' },
  withdrawalId: { type: 'string' },
  code: { type: 'string' },
  reason: { type: 'string' },
  attempts: { type: 'integer' },
  status: { type: 'string', enum: LETTER_STATUSES },
  payload: { type: 'object', additionalProperties: true },
  resolvedBy: { type: ['string', 'null'] },
  resolutionReason: { type: ['string', 'null'] },
  resolvedAt: nullableTime,
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
} as const;
const letterSchema = { type: 'object', properties: letterProperties } as const;
const letterListItemSchema = {
  type: 'object',
  properties: { ...letterProperties, withdrawalStatus: { type: ['string', 'null'], enum: [...WITHDRAWAL_STATUSES, null] } },
} as const;



const actionResultSchema = (actions: string[]) =>
  ({
    type: 'object',
    properties: {
      letter: letterSchema,
      withdrawal: adminWithdrawalSchema,
      action: { type: 'string', enum: actions },
      consequence: { type: 'string', description: 'what happens to the hold and the nonce' },
    },
  }) as const;

const auditSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    actor: { type: 'string', description: 'user:<console user> or apikey:<key name>' },
    action: { type: 'string', examples: ['dead_letter.retry'] },
    targetType: { type: 'string' },
    targetId: { type: 'string' },
    reason: { type: ['string', 'null'] },
    before: { description: 'state before the action (JSON)' },
    after: { description: 'state after the action (JSON)' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$', description: 'dead letter id' } } } as const;
const limitSchema = { type: 'string', pattern: '^(?:[1-9]\\d?|1\\d\\d|200)$', description: '1-200, default 50' } as const;
const cursorSchema = { type: 'string', maxLength: 200, description: 'nextCursor from the previous page' } as const;
const reasonSchema = { type: 'string', minLength: 1, maxLength: 500, pattern: '\\S', description: 'why (kept on the letter and in the audit log)' } as const;
const errors = { ...problemResponses, 404: { $ref: 'Problem#' }, 409: { $ref: 'Problem#' }, 503: { $ref: 'Problem#' } } as const;

const STATUS_OF: Record<string, number> = { dead_letter_not_found: 404, withdrawal_not_found: 404, chain_unavailable: 503 };

function encodeCursor(prefix: string, id: number): string {
  return Buffer.from(`${prefix}:${id}`).toString('base64url');
}

function decodeCursor(prefix: string, cursor: string | undefined): number | undefined {
  if (!cursor) return undefined;
  const m = new RegExp(`^${prefix}:([1-9][0-9]{0,14})$`).exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new ProblemError(400, 'invalid_cursor', 'cursor is not one this API returned.');
  return Number(m[1]);
}

/**
 * Admin API for dead letters (the seed's "Handle Error") and the audit log: viewers read,
 * operators retry and discard. Every write is a compare-and-set with its audit entry in the same
 * database transaction (src/dlq/dead-letter-actions.ts).
 */
export function registerAdminDeadLetterRoutes(app: FastifyInstance, services: Services) {
  const { deadLetterActions: actions, withdrawals, assets, auditLog } = services;

  const actor = (request: FastifyRequest) => request.admin!.actor;

  function toLetter(row: DeadLetterRow) {
    let payload: unknown = {};
    try {
      payload = JSON.parse(row.payload);
    } catch {
      payload = { raw: row.payload };
    }
    return {
      id: Number(row.id),
      queue: row.queue,
      withdrawalId: row.withdrawal_id,
      code: row.code,
      reason: row.reason,
      attempts: Number(row.attempts),
      status: row.status,
      payload: payload && typeof payload === 'object' ? payload : { value: payload },
      resolvedBy: row.resolved_by,
      resolutionReason: row.resolution_reason,
      resolvedAt: iso(row.resolved_at),
      createdAt: iso(row.created_at)!,
      updatedAt: iso(row.updated_at)!,
    };
  }

  async function toWithdrawal(row: WithdrawalRow) {
    return adminWithdrawalView(row, (await assets.ledgerDecimals(row.asset)) ?? 0);
  }

  const toAttempt = attemptView;

  function asProblem(err: unknown): never {
    if (err instanceof DeadLetterActionError) throw new ProblemError(STATUS_OF[err.code] ?? 409, err.code, err.shortMessage, err.extra);
    throw err;
  }

  app.get<{ Querystring: { queue?: DeadLetterQueueName; status?: DeadLetterStatus; limit?: string; cursor?: string } }>(
    '/admin/api/dead-letters',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'Dead letters, newest first',
        description: 'Invalid DLQ (requests the signer refused) and TX DLQ (transactions a node refused for good).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { queue: { type: 'string', enum: QUEUES }, status: { type: 'string', enum: LETTER_STATUSES }, limit: limitSchema, cursor: cursorSchema },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: letterListItemSchema }, nextCursor: { type: ['string', 'null'] } } },
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = Number(q.limit ?? '50');
      const before = decodeCursor('dl', q.cursor);
      const rows = await actions.list({ limit: limit + 1, ...(q.queue ? { queue: q.queue } : {}), ...(q.status ? { status: q.status } : {}), ...(before !== undefined ? { before } : {}) });
      const page = rows.slice(0, limit);
      const ids = [...new Set(page.map((r) => r.withdrawal_id))];
      const statuses = new Map<string, WithdrawalStatus>();
      if (ids.length > 0) {
        const found = await services.db.kysely.selectFrom('withdrawals').select(['id', 'status']).where('id', 'in', ids).execute();
        for (const w of found) statuses.set(w.id, w.status);
      }
      return {
        items: page.map((r) => ({ ...toLetter(r), withdrawalStatus: statuses.get(r.withdrawal_id) ?? null })),
        nextCursor: rows.length > limit ? encodeCursor('dl', Number(page[page.length - 1]!.id)) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/api/dead-letters/:id',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'One dead letter with its withdrawal and every transaction signed for it',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              letter: letterSchema,
              withdrawal: { ...adminWithdrawalSchema, type: ['object', 'null'] },
              attempts: { type: 'array', items: attemptSchema },
              consequences: {
                type: 'object',
                description: 'what retry and discard would do to the hold and the nonce, to show before confirming',
                properties: { retry: { type: 'string' }, discard: { type: 'string' } },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const letter = await actions.get(Number(request.params.id));
      if (!letter) throw new ProblemError(404, 'dead_letter_not_found', `No dead letter ${request.params.id}.`);
      const w = await withdrawals.get(letter.withdrawal_id);
      const attempts = w ? await actions.attemptsOf(w.id) : [];
      return {
        letter: toLetter(letter),
        withdrawal: w ? await toWithdrawal(w) : null,
        attempts: attempts.map(toAttempt),
        consequences: deadLetterConsequences(letter, w, attempts.at(-1)),
      };
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/admin/api/dead-letters/:id/retry',
    {
      config: { adminRole: 'operator' },
      schema: {
        tags: ['admin'],
        summary: 'Retry a dead letter',
        description: [
          'Only an open letter (else 409 dead_letter_not_open). By the withdrawal\'s state:',
          'RECEIVED: queued for signing again (every check runs again);',
          'SIGNED/BROADCAST being cancelled: the cancel is called off and the payout re-signed at the same nonce (409 cancel_pending until the cancel is signed); whichever of payout and cancel mines decides;',
          'SIGNED/BROADCAST otherwise: the newest signed tx is broadcast again;',
          'CONFIRMING: 409 already_mined; COMPLETED/REJECTED/FAILED/CANCELLED: 409 withdrawal_terminal. Nothing changes on a 409.',
          'The letter becomes "retried"; the action is audited.',
        ].join(' '),
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: { reason: reasonSchema } },
        response: { 200: actionResultSchema(['requeued', 'payout_resigned', 'rebroadcast']), ...errors },
      },
      // The body is optional: a bare POST (no body, no content type) is a retry without a reason.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request) => {
      const result = await actions.retry(Number(request.params.id), { actor: actor(request), reason: request.body?.reason }).catch(asProblem);
      return { letter: toLetter(result.letter), withdrawal: await toWithdrawal(result.withdrawal), action: result.action, consequence: result.consequence };
    },
  );

  app.post<{ Params: { id: string }; Body: { reason: string } }>(
    '/admin/api/dead-letters/:id/discard',
    {
      config: { adminRole: 'operator' },
      schema: {
        tags: ['admin'],
        summary: 'Discard a dead letter (reason required)',
        description: [
          'Only an open letter (else 409 dead_letter_not_open). By the withdrawal\'s state:',
          'RECEIVED: CANCELLED (failureCode "discarded"); nothing was held;',
          'SIGNED/BROADCAST: if any of its transactions is mined, 409 already_mined (it settles as mined); else its nonce is filled with a cancel and the hold is released when the cancel is mined;',
          'CONFIRMING: 409 already_mined; COMPLETED/REJECTED/FAILED/CANCELLED: the letter is just closed.',
          'The letter becomes "discarded"; the action is audited.',
        ].join(' '),
        params: idParams,
        body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: reasonSchema } },
        response: { 200: actionResultSchema(['cancelled', 'cancel_requested', 'closed']), ...errors },
      },
    },
    async (request) => {
      const result = await actions.discard(Number(request.params.id), { actor: actor(request), reason: request.body.reason }).catch(asProblem);
      return { letter: toLetter(result.letter), withdrawal: await toWithdrawal(result.withdrawal), action: result.action, consequence: result.consequence };
    },
  );

  app.get<{ Querystring: { actor?: string; action?: string; targetType?: string; targetId?: string; limit?: string; cursor?: string } }>(
    '/admin/api/audit-log',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'Audit log of operator actions, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            actor: { type: 'string', maxLength: 100, examples: ['user:alice', 'apikey:ops'] },
            action: { type: 'string', maxLength: 64, examples: ['pause.set'] },
            targetType: { type: 'string', maxLength: 32, examples: ['dead_letter'] },
            targetId: { type: 'string', maxLength: 64 },
            limit: limitSchema,
            cursor: cursorSchema,
          },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: auditSchema }, nextCursor: { type: ['string', 'null'] } } },
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = Number(q.limit ?? '50');
      const before = decodeCursor('au', q.cursor);
      const rows = await auditLog.list({ limit: limit + 1, ...(q.actor ? { actor: q.actor } : {}), ...(q.action ? { action: q.action } : {}), ...(q.targetType ? { targetType: q.targetType } : {}), ...(q.targetId ? { targetId: q.targetId } : {}), ...(before !== undefined ? { before } : {}) });
      const page = rows.slice(0, limit);
      const items: AuditRecord[] = page.map((r) => auditLog.toRecord(r));
      return { items, nextCursor: rows.length > limit ? encodeCursor('au', Number(page[page.length - 1]!.id)) : null };
    },
  );
}
