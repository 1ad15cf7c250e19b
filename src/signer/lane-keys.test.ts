import pino from 'pino';
import { type Address, getAddress } from 'viem';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Common } from '../common.js';
import type { Config } from '../config/schema.js';
import { RetryableError } from '../errors/base.js';
import { createMetrics } from '../observability/metrics.js';
import type { Wallet } from '../wallets/wallets.js';
import { createLaneKeys, KEY_RECHECK_MS, keysUnusable } from './lane-keys.js';

const A = getAddress('0x1111111111111111111111111111111111111111');
const B = getAddress('0x2222222222222222222222222222222222222222');
const C = getAddress('0x3333333333333333333333333333333333333333');
const lane = (address: Address, key_ref: string): Wallet => ({ chain_id: 1, address, key_ref });

function setup(keyAddress: (lane: Wallet) => Promise<Address>) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const metrics = createMetrics();
  const common = { config: {} as Config, logger, metrics, signal: new AbortController().signal } satisfies Common;
  const ask = vi.fn(keyAddress);
  return { keys: createLaneKeys({ common, chainId: 1, keyAddress: ask }), ask, lines, metrics };
}

afterEach(() => vi.useRealTimers());

describe('createLaneKeys', () => {
  it('leaves out a lane whose key signs for another address or cannot be read, and says why', async () => {
    const { keys, lines, metrics } = setup(async (l) => {
      if (l.key_ref === 'unreadable') throw new RetryableError('Secrets Manager refused.', { code: 'key_unavailable' });
      return l.key_ref === 'mixed-up' ? C : getAddress(l.address);
    });
    const lanes = [lane(A, 'right'), lane(B, 'mixed-up'), lane(C, 'unreadable')];
    const { usable, refused } = await keys.usable(lanes);
    expect(usable).toEqual([lanes[0]]);
    expect(refused.map((r) => [r.lane.address, r.problem])).toEqual([
      [B, `its key mixed-up signs for ${C}`],
      [C, 'its key unreadable cannot be used: Secrets Manager refused.'],
    ]);
    expect(lines.filter((l) => l.alert === 'hot_wallet_key_unusable').map((l) => l.wallet)).toEqual([B, C]);
    expect((await metrics.hotWalletKeyUnusable.get()).values.map((v) => [v.labels.wallet, v.value])).toEqual([
      [B, 1],
      [C, 1],
    ]);
    const wait = keysUnusable(1, refused);
    expect(wait.code).toBe('hot_wallet_key_unusable');
    expect(wait.shortMessage).toContain(`${B}: its key mixed-up signs for ${C}`);
  });

  it('asks a refused key again only after the recheck interval, and takes the lane back once it is right', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    let signsFor = C;
    const { keys, ask, lines } = setup(async () => signsFor);
    const b = lane(B, 'mixed-up');
    expect((await keys.usable([b])).usable).toEqual([]);
    signsFor = B; // fixed, but not asked again yet
    expect((await keys.usable([b])).usable).toEqual([]);
    expect(ask).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(KEY_RECHECK_MS);
    expect((await keys.usable([b])).usable).toEqual([b]);
    expect(ask).toHaveBeenCalledTimes(2);
    expect(lines.at(-1)).toMatchObject({ wallet: B, msg: "hot wallet's key is usable again; the lane takes withdrawals" });
    await keys.usable([b]);
    expect(ask).toHaveBeenCalledTimes(3); // a usable key is asked every time: the key store caches it
  });

  it('compares addresses whatever their casing, and names a mixed-up key by its checksummed address', async () => {
    const { keys } = setup(async (l) => (l.key_ref === 'lowercase' ? (l.address.toLowerCase() as Address) : (C.toLowerCase() as Address)));
    const lanes = [lane(A, 'lowercase'), lane(B, 'mixed-up')];
    const { usable, refused } = await keys.usable(lanes);
    expect(usable).toEqual([lanes[0]]);
    expect(refused.map((r) => r.problem)).toEqual([`its key mixed-up signs for ${C}`]);
  });

  it('leaves out a lane whose key gives something that is not an address', async () => {
    const { keys } = setup(async () => '0x1234' as Address);
    const { usable, refused } = await keys.usable([lane(A, 'broken')]);
    expect(usable).toEqual([]);
    expect(refused[0]!.problem).toMatch(/^its key broken cannot be used: /);
  });
});
