import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createFileKeyStore } from '../keys/keystore-file.js';
import type { Wallet, Wallets } from '../wallets/wallets.js';
import { warmKeys } from './warm-keys.js';

const cheap = { n: 1024, r: 8, p: 1 };

function walletsOf(list: Wallet[]): Wallets {
  return { forChain: async (chainId: number) => list.filter((w) => w.chain_id === chainId) } as unknown as Wallets;
}

describe('warmKeys', () => {
  it("unlocks every wallet's key once, so signing does not pay for it; a missing or foreign key is logged, not thrown", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-warm-'));
    const store = createFileKeyStore({ dir, password: 'pw', cost: cheap });
    const a = await store.createKey('a');
    const b = await store.createKey('b');
    const other = await store.createKey('other');
    const wallets = walletsOf([
      { chain_id: 1, address: a.address, key_ref: a.keyRef },
      { chain_id: 1, address: b.address, key_ref: other.keyRef }, // the wallet row points at another wallet's key
      { chain_id: 1, address: '0x000000000000000000000000000000000000dEaD', key_ref: 'keystore:gone.json' },
      { chain_id: 2, address: b.address, key_ref: b.keyRef }, // a chain this signer does not serve
    ]);
    const keys = createFileKeyStore({ dir, password: 'pw', cost: cheap });
    const unlock = vi.spyOn(keys, 'signer');
    const logger = pino({ level: 'silent' });
    const errors = vi.spyOn(logger, 'error');

    expect(await warmKeys({ wallets, keys, chainIds: [1], logger })).toEqual({ unlocked: 1, failed: 2 });
    expect(unlock.mock.calls.map(([ref]) => ref).sort()).toEqual([a.keyRef, other.keyRef, 'keystore:gone.json'].sort());
    expect(errors).toHaveBeenCalledTimes(2);
    expect(errors.mock.calls.map(([fields]) => (fields as { wallet: string }).wallet).sort()).toEqual([b.address, '0x000000000000000000000000000000000000dEaD'].sort());

    // The unlocked key is kept: the first signing finds it ready (the same promise, already settled).
    const warmed = keys.signer(a.keyRef);
    expect(warmed).toBe(keys.signer(a.keyRef));
    expect((await warmed).address).toBe(a.address);
  });

  it('does nothing for a chain without wallets', async () => {
    const keys = createFileKeyStore({ dir: fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-warm-')), password: 'pw', cost: cheap });
    expect(await warmKeys({ wallets: walletsOf([]), keys, chainIds: [1], logger: pino({ level: 'silent' }) })).toEqual({ unlocked: 0, failed: 0 });
  });
});
