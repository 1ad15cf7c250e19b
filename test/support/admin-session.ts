import type { Stack } from './stack.js';

export type ConsoleLogin = { cookie: string; csrf: string; setCookie: string; body: any };

/** Logs a console user in over HTTP; the cookie and CSRF token as a browser would hold them. */
export async function consoleLogin(stack: Stack, username: string, password: string): Promise<ConsoleLogin> {
  const res = await fetch(`${stack.url}/admin/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`login of ${username} answered ${res.status}: ${JSON.stringify(body)}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrfToken, setCookie, body };
}

/** A request as the console makes it: the session cookie, and the CSRF token on writes (unless `csrf` overrides it). */
export function asConsole(stack: Stack, login: ConsoleLogin | null, method: string, urlPath: string, options: { body?: unknown; csrf?: string | null } = {}) {
  const headers: Record<string, string> = { authorization: '' };
  if (login) headers.cookie = login.cookie;
  const csrf = options.csrf === undefined ? login?.csrf : options.csrf;
  if (csrf && method !== 'GET') headers['x-csrf-token'] = csrf;
  return stack.request(method, urlPath, { headers, ...(options.body !== undefined ? { body: options.body } : {}) });
}
