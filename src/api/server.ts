import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { ApiKeyIdentity, Scope } from '../auth/api-keys.js';
import { isTransientDbError } from '../db/errors.js';
import { preloadWriteTasks } from '../db/write-task.js';
import type { StateMetrics } from '../observability/state-metrics.js';
import type { AdminRole } from '../db/schema.js';
import { type AdminIdentity, authenticateAdmin } from './admin-auth.js';
import { registerConsole } from './console-static.js';
import { createReadiness, type Readiness } from '../runtime/readiness.js';
import { DatabaseUnavailableError } from '../withdrawals/create-batcher.js';
import { insertSqliteTask } from '../withdrawals/insert-batch.js';
import type { Services } from '../runtime/services.js';
import { ProblemError, problemSchema, sendProblem } from './problem.js';
import { createRateLimiter, enforceRateLimit } from './rate-limit.js';
import { registerAdminAccessRoutes } from './routes/admin-access.js';
import { registerAdminDeadLetterRoutes } from './routes/admin-dead-letters.js';
import { registerAdminSessionRoutes } from './routes/admin-session.js';
import { registerAdminSettingsRoutes } from './routes/admin-settings.js';
import { registerAdminStatsRoutes } from './routes/admin-stats.js';
import { registerAdminUserRoutes } from './routes/admin-users.js';
import { registerAdminWalletRoutes } from './routes/admin-wallets.js';
import { registerAdminWithdrawalRoutes } from './routes/admin-withdrawals.js';
import { registerAssetRoutes } from './routes/assets.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLedgerRoutes } from './routes/ledger.js';
import { registerWithdrawalRoutes } from './routes/withdrawals.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyIdentity | null;
    /** Set on Admin API routes once the caller passed `authenticateAdmin`. */
    admin: AdminIdentity | null;
  }
  interface FastifyContextConfig {
    /** The API-key scope a route requires; routes without one are public. */
    scope?: Scope;
    /** Admin API routes: the least console role that may call it (an `admin`-scope API key acts as admin). */
    adminRole?: AdminRole;
  }
}

/**
 * TX Request API + TX Status API. Validation comes from the route schemas (which also produce the
 * OpenAPI document at /docs); unknown fields are refused rather than silently dropped.
 */
export async function createApiServer(services: Services, options: { readiness?: Readiness; stateMetrics?: StateMetrics } = {}): Promise<FastifyInstance> {
  const { common } = services;
  preloadWriteTasks(services.db, insertSqliteTask);
  const app = Fastify({
    loggerInstance: common.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // Per-request lines would drown the withdrawal logs; latency goes to metrics instead.
    // Log lines of a request carry `requestId`, which the response's X-Request-Id header names.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: common.config.bodyLimitBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    // Fastify takes a hop count too, though its types only list boolean and string.
    ...(common.config.trustProxy !== undefined ? { trustProxy: common.config.trustProxy as boolean | string } : {}),
  });

  // JSON only: anything else is a 415, not a string body that fails validation later.
  app.removeContentTypeParser('text/plain');
  app.addSchema(problemSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Sluice API', version: 'v1', description: 'Withdrawal engine for custodial platforms.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'sluice_session' },
        },
      },
      security: [{ bearer: [] }],
      tags: [{ name: 'admin', description: 'Admin API under /admin/api, for the operator console: a session cookie from POST /admin/api/session (writes also need its X-CSRF-Token header), or an API key with scope "admin" (acts as role admin). Roles: viewer (reads), operator (+ dead-letter retry/discard, pause), admin (+ settings, API keys, console users). Every write is audited.' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Every Admin API route must name the role it needs: one forgotten cannot go out unprotected.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/admin/api/') || (route.url === '/admin/api/session' && route.method === 'POST')) return;
    if (!route.config?.adminRole) throw new Error(`Admin API route ${String(route.method)} ${route.url} declares no adminRole.`);
  });

  app.decorateRequest('apiKey', null);
  app.decorateRequest('admin', null);
  const { rateLimitPerSecond } = common.config;
  const rateLimit = rateLimitPerSecond > 0 ? createRateLimiter({ cache: services.cache, limitPerSecond: rateLimitPerSecond, metrics: common.metrics, logger: common.logger }) : null;
  app.addHook('onRequest', async (request, reply) => {
    const adminRole = request.routeOptions.config.adminRole;
    if (adminRole) return (await authenticateAdmin(services, request, reply, adminRole)) ? undefined : reply;
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const identity = match ? await services.apiKeys.authenticate(match[1]!) : null;
    if (!identity) {
      reply.header('WWW-Authenticate', 'Bearer');
      return sendProblem(reply, 401, 'unauthorized', match ? 'Unknown or revoked API key.' : 'Send an API key as "Authorization: Bearer <key>".');
    }
    if (!identity.scopes.has(scope)) return sendProblem(reply, 403, 'forbidden', `This API key lacks the "${scope}" scope.`);
    // Per key, after authentication: an unknown key costs no counter. Only the client API (/v1).
    if (rateLimit && request.url.startsWith('/v1/') && !(await enforceRateLimit(rateLimit, identity.id, reply))) return reply;
    request.apiKey = identity;
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.addHook('onResponse', async (request, reply) => {
    common.metrics.httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ProblemError) return sendProblem(reply, error.status, error.code, error.shortMessage, error.extra);
    if (error.validation) {
      const first = error.validation[0];
      if (error.validationContext === 'headers') {
        return sendProblem(reply, 400, 'missing_idempotency_key', 'The Idempotency-Key header is required (1-255 printable characters).');
      }
      const field = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : undefined;
      const unknown = first?.keyword === 'additionalProperties' ? (first.params as { additionalProperty?: string }).additionalProperty : undefined;
      if (unknown) return sendProblem(reply, 400, 'unknown_field', `Unknown field "${unknown}" in ${error.validationContext}.`, { field: unknown });
      return sendProblem(reply, 400, 'invalid_request', `${error.validationContext}${field ? `.${field}` : ''} ${first?.message ?? 'is invalid'}.`, field ? { field } : {});
    }
    switch (error.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendProblem(reply, 400, 'malformed_json', 'The request body is not valid JSON.');
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendProblem(reply, 413, 'payload_too_large', `Request bodies are limited to ${common.config.bodyLimitBytes} bytes.`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendProblem(reply, 415, 'unsupported_media_type', 'Send JSON with Content-Type: application/json.');
    }
    if (error instanceof DatabaseUnavailableError || isTransientDbError(error)) {
      request.log.error({ err: error, url: request.url }, 'database unavailable');
      reply.header('Retry-After', '1');
      return sendProblem(reply, 503, 'database_unavailable', 'The database is unavailable right now; nothing was stored. Retry with the same Idempotency-Key.');
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, error.statusCode, 'bad_request', error.message);
    }
    request.log.error({ err: error, url: request.url }, 'unhandled API error');
    return sendProblem(reply, 500, 'internal_error', 'Something went wrong on our side; the request may be retried with the same Idempotency-Key.');
  });

  registerHealthRoutes(app, services, options.readiness ?? createReadiness(services, { chains: true, queues: false }), options.stateMetrics ? { stateMetrics: options.stateMetrics } : {});
  registerAssetRoutes(app, services);
  registerLedgerRoutes(app, services);
  registerWithdrawalRoutes(app, services);
  registerAdminSessionRoutes(app, services);
  registerAdminDeadLetterRoutes(app, services);
  registerAdminStatsRoutes(app, services);
  registerAdminWithdrawalRoutes(app, services);
  registerAdminSettingsRoutes(app, services);
  registerAdminWalletRoutes(app, services);
  registerAdminUserRoutes(app, services);
  registerAdminAccessRoutes(app, services);
  await registerConsole(app, common.config.consoleDir);
  return app;
}
