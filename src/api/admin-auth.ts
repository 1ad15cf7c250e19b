import type { FastifyReply, FastifyRequest } from 'fastify';
import { roleAllows } from '../admin/roles.js';
import { type AdminSession, sameSecret } from '../admin/sessions.js';
import type { AdminRole } from '../db/schema.js';
import type { Services } from '../runtime/services.js';
import { sendProblem } from './problem.js';

export const SESSION_COOKIE = 'sluice_session';

/** Who acts on the Admin API: a console user by session cookie, or an API key with scope `admin` (role admin). */
export type AdminIdentity = { actor: string; role: AdminRole; session: AdminSession | null };

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined; // malformed escapes: no session, not a 500
      }
    }
  }
  return undefined;
}

/** Secure everywhere but plain-http localhost, where browsers would drop a Secure cookie. */
function isLocalhost(request: FastifyRequest): boolean {
  const host = (request.hostname ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '127.0.0.1' || host === '::1';
}

export function sessionCookie(request: FastifyRequest, token: string, maxAgeSeconds: number): string {
  const attrs = [`${SESSION_COOKIE}=${token}`, 'Path=/admin', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`];
  if (!isLocalhost(request)) attrs.push('Secure');
  return attrs.join('; ');
}

export function clearedSessionCookie(request: FastifyRequest): string {
  return sessionCookie(request, '', 0);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The Admin API's gate, run for every route that declares `config.adminRole`: 401 without a live
 * session or key, 403 `csrf_failed` for a cookie-authenticated write without the session's CSRF
 * token, 403 `forbidden` below the route's role. Bearer keys need no CSRF token (no browser sends
 * them by itself).
 */
export async function authenticateAdmin(services: Services, request: FastifyRequest, reply: FastifyReply, needs: AdminRole): Promise<boolean> {
  const header = request.headers.authorization;
  let identity: AdminIdentity;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const key = match ? await services.apiKeys.authenticate(match[1]!) : null;
    if (!key) {
      reply.header('WWW-Authenticate', 'Bearer');
      await sendProblem(reply, 401, 'unauthorized', match ? 'Unknown or revoked API key.' : 'Send an API key as "Authorization: Bearer <key>" or log in.');
      return false;
    }
    if (!key.scopes.has('admin')) {
      await sendProblem(reply, 403, 'forbidden', 'This API key lacks the "admin" scope.');
      return false;
    }
    request.apiKey = key;
    identity = { actor: `apikey:${key.name}`, role: 'admin', session: null };
  } else {
    const token = readCookie(request.headers.cookie, SESSION_COOKIE);
    const session = token ? await services.adminSessions.authenticate(token) : undefined;
    if (!session) {
      await sendProblem(reply, 401, 'unauthorized', 'Log in first (POST /admin/api/session); the session may have expired.');
      return false;
    }
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameSecret(sent, session.csrfToken)) {
        await sendProblem(reply, 403, 'csrf_failed', 'Send the session\'s CSRF token in the X-CSRF-Token header.');
        return false;
      }
    }
    identity = { actor: `user:${session.username}`, role: session.role, session };
  }
  if (!roleAllows(identity.role, needs)) {
    await sendProblem(reply, 403, 'forbidden', `This action needs the "${needs}" role; you have "${identity.role}".`);
    return false;
  }
  request.admin = identity;
  return true;
}
