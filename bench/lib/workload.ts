import { randomBytes } from 'node:crypto';
import { type Address, getAddress } from 'viem';

/** Realistic withdrawal requests: many users, valid EIP-55 recipients, ETH and USDT, varied amounts. */
export type WorkloadSpec = {
  chainId: number;
  userPrefix: string;
  users: number;
  /** Share of requests for USDT (the rest ETH). */
  usdtShare: number;
  /** Ranges in asset units; amounts are random within them with up to 4 decimals. */
  ethRange: [number, number];
  usdtRange: [number, number];
};

export const API_WORKLOAD = (chainId: number, userPrefix: string, users: number): WorkloadSpec => ({
  chainId,
  userPrefix,
  users,
  usdtShare: 0.4,
  ethRange: [0.001, 0.5],
  usdtRange: [1, 500],
});

/** Random 20-byte recipients, checksummed; never the zero or a reserved (precompile) address. */
export function recipientPool(size: number): Address[] {
  return Array.from({ length: size }, () => {
    const bytes = randomBytes(20);
    bytes[0] = bytes[0]! | 0x10;
    return getAddress(`0x${bytes.toString('hex')}`);
  });
}

export const userId = (spec: Pick<WorkloadSpec, 'userPrefix'>, i: number) => `${spec.userPrefix}-${String(i).padStart(6, '0')}`;

function amountIn([lo, hi]: [number, number]): string {
  const units = Math.round((lo + Math.random() * (hi - lo)) * 10_000);
  return (units / 10_000).toFixed(4).replace(/\.?0+$/, '');
}

export function createBodies(spec: WorkloadSpec, recipients: Address[]) {
  return () => {
    const usdt = Math.random() < spec.usdtShare;
    return {
      userId: userId(spec, Math.floor(Math.random() * spec.users)),
      asset: usdt ? 'USDT' : 'ETH',
      chainId: spec.chainId,
      toAddress: recipients[Math.floor(Math.random() * recipients.length)]!,
      amount: amountIn(usdt ? spec.usdtRange : spec.ethRange),
    };
  };
}

/** Credits every user of the workload through the API (what a platform does on deposits). */
export async function creditUsers(input: {
  url: string;
  apiKey: string;
  spec: WorkloadSpec;
  amounts: Partial<Record<'ETH' | 'USDT', string>>;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<{ credits: number; retried503: number }> {
  const jobs: { userId: string; asset: 'ETH' | 'USDT' }[] = [];
  for (let i = 0; i < input.spec.users; i++) for (const asset of ['ETH', 'USDT'] as const) if (input.amounts[asset]) jobs.push({ userId: userId(input.spec, i), asset });
  let next = 0;
  let done = 0;
  let retried = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      // A 503 says "nothing stored, retry": a platform retries (same reference, so at most once).
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${input.url}/v1/ledger/credits`, {
          method: 'POST',
          headers: { authorization: `Bearer ${input.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ userId: job.userId, asset: job.asset, amount: input.amounts[job.asset]!, reference: `bench-deposit-${job.userId}-${job.asset}` }),
        });
        const text = await res.text();
        if (res.status === 201 || res.status === 200) break;
        if (res.status !== 503 || attempt >= 10) throw new Error(`credit ${job.userId} ${job.asset}: ${res.status} ${text}`);
        retried += 1;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
      done += 1;
      if (done % 100 === 0) input.onProgress?.(done, jobs.length);
    }
  };
  await Promise.all(Array.from({ length: input.concurrency ?? 16 }, worker));
  return { credits: jobs.length, retried503: retried };
}
