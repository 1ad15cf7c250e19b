/** The Admin API client: cookie session, CSRF header on writes, problem+json errors as ApiError. */

export type Role = 'viewer' | 'operator' | 'admin';
export type SessionUser = { username: string; role: Role };
export type Session = { user: SessionUser; csrfToken: string; expiresAt: number };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

let csrfToken = '';
let onUnauthorized: () => void = () => {};

export function setCsrfToken(token: string) {
  csrfToken = token;
}
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`/admin/api${path}`, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.code ?? 'http_error', data?.detail ?? data?.title ?? `HTTP ${res.status}`);
    if (res.status === 401 && path !== '/session') onUnauthorized();
    throw err;
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** Query string from the set values only. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export type WithdrawalStatus = 'RECEIVED' | 'SIGNED' | 'BROADCAST' | 'CONFIRMING' | 'COMPLETED' | 'REJECTED' | 'FAILED' | 'CANCELLED';
export const STATUSES: WithdrawalStatus[] = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

export type Withdrawal = {
  id: string;
  userId: string;
  asset: string;
  chainId: number;
  toAddress: string;
  amount: string;
  fee: string;
  status: WithdrawalStatus;
  txHash: string | null;
  confirmations: number | null;
  failureCode: string | null;
  failureReason: string | null;
  cancelReason?: string | null;
  createdAt: string | number;
  updatedAt: string | number;
  wallet: string | null;
  nonce: number | null;
};

export type Attempt = {
  txHash: string;
  nonce: number;
  kind: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  gasLimit: string;
  broadcastAt: string | number | null;
  lastBroadcastAt: string | number | null;
  broadcastCount: number;
  lastError: string | null;
  createdAt: string | number;
};

export type Page<T> = { items: T[]; nextCursor: string | null };
