import type { FastifyInstance } from 'fastify';
import { createApiKeyAdmin } from '../../admin/api-key-admin.js';
import { AdminActionError } from '../../admin/errors.js';
import { SCOPES, type Scope } from '../../auth/api-keys.js';
import type { AdminRole } from '../../db/schema.js';
import type { Services } from '../../runtime/services.js';
import { ProblemError } from '../problem.js';
import { adminErrors, nullableMs, msSchema, reasonSchema, roleSchema } from './admin-common.js';

const STATUS_OF: Record<string, number> = { api_key_not_found: 404, user_not_found: 404, api_key_revoked: 409, user_exists: 409, weak_password: 400, invalid_username: 400 };

function asProblem(err: unknown): never {
  if (err instanceof AdminActionError) throw new ProblemError(STATUS_OF[err.code] ?? 409, err.code, err.shortMessage);
  throw err;
}

const apiKeySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    prefix: { type: 'string', description: 'first characters of the key, to recognise it' },
    scopes: { type: 'array', items: { type: 'string' } },
    createdAt: msSchema,
    revokedAt: nullableMs,
    lastUsedAt: { ...nullableMs, description: 'epoch ms, to within ~10 s' },
  },
} as const;
const withSecret = { type: 'object', properties: { apiKey: apiKeySchema, secret: { type: 'string', description: 'the key; shown once, never again' } } } as const;
const userSchema = {
  type: 'object',
  properties: { username: { type: 'string' }, role: roleSchema, createdAt: msSchema, disabledAt: nullableMs, lastLoginAt: nullableMs },
} as const;
const keyIdParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const reasonBody = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: reasonSchema } } as const;

/** API keys and console users (role admin), every change audited. */
export function registerAdminAccessRoutes(app: FastifyInstance, services: Services) {
  const keys = createApiKeyAdmin({ db: services.db, auditLog: services.auditLog });
  const { adminUsers } = services;

  app.get(
    '/admin/api/api-keys',
    { config: { adminRole: 'admin' }, schema: { tags: ['admin'], summary: 'API keys (never their secrets)', response: { 200: { type: 'object', properties: { items: { type: 'array', items: apiKeySchema } } }, ...adminErrors } } },
    async () => ({ items: await keys.list() }),
  );

  app.post<{ Body: { name: string; scopes: Scope[] } }>(
    '/admin/api/api-keys',
    {
      config: { adminRole: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Create an API key (the secret is in this answer only)',
        body: {
          type: 'object',
          required: ['name', 'scopes'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 64, pattern: '\\S' }, scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...SCOPES] } } },
        },
        response: { 201: withSecret, ...adminErrors },
      },
    },
    async (request, reply) => {
      const created = await keys.create({ name: request.body.name, scopes: request.body.scopes }, request.admin!.actor).catch(asProblem);
      reply.header('Cache-Control', 'no-store');
      return reply.code(201).send(created);
    },
  );

  app.post<{ Params: { id: string }; Body: { reason: string } }>(
    '/admin/api/api-keys/:id/revoke',
    { config: { adminRole: 'admin' }, schema: { tags: ['admin'], summary: 'Revoke an API key (refused everywhere within 10 s)', params: keyIdParams, body: reasonBody, response: { 200: { type: 'object', properties: { apiKey: apiKeySchema } }, ...adminErrors } } },
    async (request) => ({ apiKey: await keys.revoke(request.params.id, request.admin!.actor, request.body.reason).catch(asProblem) }),
  );

  app.post<{ Params: { id: string }; Body: { reason: string } }>(
    '/admin/api/api-keys/:id/rotate',
    {
      config: { adminRole: 'admin' },
      schema: { tags: ['admin'], summary: 'Replace an API key: a new secret, same name and scopes; the old key is revoked', params: keyIdParams, body: reasonBody, response: { 200: withSecret, ...adminErrors } },
    },
    async (request, reply) => {
      const { apiKey, secret } = await keys.rotate(request.params.id, request.admin!.actor, request.body.reason).catch(asProblem);
      reply.header('Cache-Control', 'no-store');
      return { apiKey, secret };
    },
  );

  app.get(
    '/admin/api/admin-users',
    { config: { adminRole: 'admin' }, schema: { tags: ['admin'], summary: 'Console users', response: { 200: { type: 'object', properties: { items: { type: 'array', items: userSchema } } }, ...adminErrors } } },
    async () => ({ items: await adminUsers.list() }),
  );

  app.post<{ Body: { username: string; role: AdminRole; password?: string } }>(
    '/admin/api/admin-users',
    {
      config: { adminRole: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Create a console user (without a password, one is generated and returned once)',
        body: {
          type: 'object',
          required: ['username', 'role'],
          additionalProperties: false,
          properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, role: roleSchema, password: { type: 'string', minLength: 12, maxLength: 200 } },
        },
        response: { 201: { type: 'object', properties: { user: userSchema, password: { type: 'string' } } }, ...adminErrors },
      },
    },
    async (request, reply) => {
      const created = await adminUsers.create(request.body, request.admin!.actor).catch(asProblem);
      reply.header('Cache-Control', 'no-store');
      return reply.code(201).send(created);
    },
  );

  app.patch<{ Params: { username: string }; Body: { role?: AdminRole; disabled?: boolean; reason: string } }>(
    '/admin/api/admin-users/:username',
    {
      config: { adminRole: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change a console user\'s role or disable it (its sessions end)',
        params: { type: 'object', required: ['username'], properties: { username: { type: 'string', maxLength: 64 } } },
        body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { role: roleSchema, disabled: { type: 'boolean' }, reason: reasonSchema } },
        response: { 200: { type: 'object', properties: { user: userSchema } }, ...adminErrors },
      },
    },
    async (request) => {
      const { role, disabled, reason } = request.body;
      const me = request.admin!.session?.username;
      if (me === request.params.username && (disabled || (role !== undefined && role !== 'admin'))) {
        throw new ProblemError(409, 'cannot_demote_self', 'An admin cannot disable or demote their own user (ask another admin).');
      }
      return { user: await adminUsers.update(request.params.username, { role, disabled }, request.admin!.actor, reason).catch(asProblem) };
    },
  );
}
