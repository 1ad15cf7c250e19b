import type { FastifyInstance } from 'fastify';
import type { AdminSession } from '../../admin/sessions.js';
import type { Services } from '../../runtime/services.js';
import { clearedSessionCookie, sessionCookie } from '../admin-auth.js';
import { ProblemError } from '../problem.js';
import { adminErrors, msSchema, roleSchema } from './admin-common.js';

const sessionBody = {
  type: 'object',
  properties: {
    user: { type: 'object', properties: { username: { type: 'string' }, role: roleSchema } },
    csrfToken: { type: 'string', description: 'send as X-CSRF-Token on every write' },
    expiresAt: { ...msSchema, description: 'epoch ms when the session ends unless used before (idle), capped by the absolute limit' },
  },
} as const;

const view = (s: AdminSession) => ({ user: { username: s.username, role: s.role }, csrfToken: s.csrfToken, expiresAt: s.expiresAt });

/** Console login: an httpOnly, SameSite=Strict session cookie (Secure off localhost) and a CSRF token. */
export function registerAdminSessionRoutes(app: FastifyInstance, services: Services) {
  const { adminSessions } = services;
  const maxAgeSeconds = services.common.config.adminSessionMaxSeconds;

  app.post<{ Body: { username: string; password: string } }>(
    '/admin/api/session',
    {
      schema: {
        tags: ['admin'],
        summary: 'Log in to the console',
        description: 'Sets the `sluice_session` cookie. 401 invalid_credentials; after too many failures for a username or IP within the window, 429 too_many_attempts with Retry-After.',
        security: [],
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 200: sessionBody, 400: { $ref: 'Problem#' }, 401: { $ref: 'Problem#' }, 429: { $ref: 'Problem#' } },
      },
    },
    async (request, reply) => {
      const result = await adminSessions.login({ username: request.body.username, password: request.body.password, ip: request.ip });
      if (!result.ok) {
        if (result.reason === 'too_many_attempts') {
          reply.header('Retry-After', String(result.retryAfterSeconds));
          throw new ProblemError(429, 'too_many_attempts', `Too many failed logins; try again in ${result.retryAfterSeconds} s.`);
        }
        throw new ProblemError(401, 'invalid_credentials', 'Unknown username, wrong password, or a disabled user.');
      }
      reply.header('Set-Cookie', sessionCookie(request, result.token, maxAgeSeconds));
      reply.header('Cache-Control', 'no-store');
      return view(result.session);
    },
  );

  app.get(
    '/admin/api/session',
    {
      config: { adminRole: 'viewer' },
      schema: { tags: ['admin'], summary: 'The current session', response: { 200: sessionBody, ...adminErrors } },
    },
    async (request, reply) => {
      const admin = request.admin!;
      reply.header('Cache-Control', 'no-store');
      if (admin.session) return view(admin.session);
      // An admin API key has no session: its identity, and nothing to expire.
      return { user: { username: admin.actor, role: admin.role }, csrfToken: '', expiresAt: 0 };
    },
  );

  app.delete(
    '/admin/api/session',
    {
      config: { adminRole: 'viewer' },
      schema: { tags: ['admin'], summary: 'Log out', response: { 204: { type: 'null' }, ...adminErrors } },
    },
    async (request, reply) => {
      const session = request.admin!.session;
      if (session) await adminSessions.logout(session);
      reply.header('Set-Cookie', clearedSessionCookie(request));
      return reply.code(204).send();
    },
  );
}
