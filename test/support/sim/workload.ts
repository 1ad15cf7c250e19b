import { type Address, formatUnits, getAddress, type Hex, toHex } from 'viem';

export type AssetSymbol = 'ETH' | 'USDT';

export type AssetInfo = {
  asset: AssetSymbol;
  chainId: number;
  kind: 'native' | 'erc20';
  contract: Address | null;
  decimals: number;
  ledgerDecimals: number;
  /** In ledger base units. */
  fee: bigint;
};

export type PlannedWithdrawal = {
  index: number;
  userId: string;
  asset: AssetSymbol;
  /** Base units (ledger and chain decimals are equal for the dev assets). */
  amount: bigint;
  amountText: string;
  /** Checksummed recipient; `toSent` is how it went over the API (sometimes lowercase). */
  to: Address;
  toSent: string;
  /** Funded with amount + fee (true), or one base unit short of it (false: must end REJECTED). */
  covered: boolean;
  credit: bigint;
  creditText: string;
  creditReference: string;
  idempotencyKey: string;
  /** Submit the same request twice: one after the other, or both at once. */
  duplicate: 'none' | 'sequential' | 'concurrent';
  /** Filled in as the run goes. */
  id?: string;
  submittedAt?: number;
};

/**
 * The seeded workload: one user per withdrawal (so its expected outcome depends on its own funding
 * only), ETH or USDT, a fresh random recipient each, ~`uncoveredShare` funded one base unit short.
 */
export function planWithdrawals(input: {
  seed: number;
  count: number;
  random: () => number;
  assets: Record<AssetSymbol, AssetInfo>;
  uncoveredShare: number;
  duplicateShare: number;
}): PlannedWithdrawal[] {
  const { random } = input;
  const plan: PlannedWithdrawal[] = [];
  for (let i = 0; i < input.count; i++) {
    const asset: AssetSymbol = random() < 0.5 ? 'ETH' : 'USDT';
    const info = input.assets[asset];
    // ETH: 0.000001–0.05 with up to 6 decimals; USDT: 1–500 with up to 2 decimals.
    const amount =
      asset === 'ETH'
        ? BigInt(1 + Math.floor(random() * 50_000)) * 10n ** BigInt(info.decimals - 6)
        : BigInt(100 + Math.floor(random() * 49_900)) * 10n ** BigInt(info.decimals - 2);
    const bytes = new Uint8Array(20);
    for (let b = 0; b < 20; b++) bytes[b] = Math.floor(random() * 256);
    const to = getAddress(toHex(bytes) as Hex);
    const toSent = random() < 0.3 ? to.toLowerCase() : to;
    const covered = random() >= input.uncoveredShare;
    const dupRoll = random();
    const duplicate = dupRoll < input.duplicateShare / 2 ? 'sequential' : dupRoll < input.duplicateShare ? 'concurrent' : 'none';
    const credit = amount + info.fee - (covered ? 0n : 1n);
    plan.push({
      index: i,
      userId: `sim-${input.seed}-u${i}`,
      asset,
      amount,
      amountText: formatUnits(amount, info.ledgerDecimals),
      to,
      toSent,
      covered,
      credit,
      creditText: formatUnits(credit, info.ledgerDecimals),
      creditReference: `sim-${input.seed}-credit-${i}`,
      idempotencyKey: `sim-${input.seed}-wd-${i}`,
      duplicate,
    });
  }
  return plan;
}

export type ApiResponse = { status: number; headers: Headers; body: any };

/**
 * The platform side of the API: retries what a restart or outage breaks (connection refused, 5xx,
 * a lost answer) with the same Idempotency-Key / reference, which is exactly what a client must do.
 */
export function createApiClient(baseUrl: () => string, apiKey: string, shouldStop: () => boolean) {
  async function once(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const res = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /** Retries network errors and 5xx until an answer below 500 arrives or the run is stopping. */
  async function request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse & { tries: number }> {
    let tries = 0;
    let last: unknown;
    while (!shouldStop()) {
      tries += 1;
      try {
        const res = await once(method, path, body, headers);
        if (res.status < 500) return { ...res, tries };
        last = new Error(`HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`);
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * tries)));
    }
    throw new Error(`${method} ${path} gave up (run stopping): ${String((last as Error)?.message ?? last)}`);
  }

  return { request, once };
}

export type ApiClient = ReturnType<typeof createApiClient>;

export async function fetchAssets(api: ApiClient): Promise<Record<AssetSymbol, AssetInfo>> {
  const res = await api.request('GET', '/v1/assets');
  if (res.status !== 200) throw new Error(`GET /v1/assets answered ${res.status}`);
  const out: Partial<Record<AssetSymbol, AssetInfo>> = {};
  for (const a of res.body as Array<{ asset: string; ledgerDecimals: number; networks: Array<{ chainId: number; kind: 'native' | 'erc20'; contract: string | null; decimals: number; withdrawalFee: string }> }>) {
    if (a.asset !== 'ETH' && a.asset !== 'USDT') continue;
    const n = a.networks[0];
    if (!n) continue;
    const [whole, frac = ''] = n.withdrawalFee.split('.');
    const fee = BigInt(whole!) * 10n ** BigInt(a.ledgerDecimals) + BigInt((frac.padEnd(a.ledgerDecimals, '0') || '0'));
    out[a.asset] = {
      asset: a.asset,
      chainId: n.chainId,
      kind: n.kind,
      contract: n.contract ? getAddress(n.contract) : null,
      decimals: n.decimals,
      ledgerDecimals: a.ledgerDecimals,
      fee,
    };
  }
  if (!out.ETH || !out.USDT) throw new Error(`GET /v1/assets lacks ETH or USDT: ${JSON.stringify(res.body)}`);
  if (out.ETH.decimals !== out.ETH.ledgerDecimals || out.USDT.decimals !== out.USDT.ledgerDecimals) {
    throw new Error('the simulation assumes chain decimals == ledger decimals for the dev assets');
  }
  return out as Record<AssetSymbol, AssetInfo>;
}
