import { generatePrivateKey } from 'viem/accounts';
import { describe, expect, it, vi } from 'vitest';

// Counts the scrypt runs in flight: each holds 128·N·r bytes outside the JS heap while it runs.
const inFlight = vi.hoisted(() => ({ now: 0, max: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const scrypt = (...args: unknown[]) => {
    const done = args[args.length - 1] as (err: Error | null, key: Buffer) => void;
    inFlight.now += 1;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    try {
      (real.scrypt as (...a: unknown[]) => void)(...args.slice(0, -1), (err: Error | null, key: Buffer) => {
        inFlight.now -= 1;
        done(err, key);
      });
    } catch (err) {
      inFlight.now -= 1; // invalid parameters throw at once
      throw err;
    }
  };
  return { ...real, default: { ...real, scrypt }, scrypt };
});

const { decryptKey, encryptKey } = await import('./keystore-file.js');

describe('keystore key derivations', () => {
  it('runs one scrypt derivation at a time, however many unlocks are asked, and finishes them all', async () => {
    const cost = { n: 1024, r: 8, p: 1 };
    const keys = Array.from({ length: 6 }, () => generatePrivateKey());
    const files = await Promise.all(keys.map((k) => encryptKey(k, 'pw', cost)));
    inFlight.max = 0;

    const invalidCost = { ...files[0]!, crypto: { ...files[0]!.crypto, kdfparams: { ...files[0]!.crypto.kdfparams, n: 1000 } } };
    const failing = [decryptKey(invalidCost, 'pw'), decryptKey(files[0]!, 'wrong')].map((p) => p.then(() => 'decrypted', (e: Error) => e.name));
    const decrypted = await Promise.all([...failing, ...files.map((f) => decryptKey(f, 'pw'))]);

    // A derivation that fails (scrypt refuses the cost) or a wrong password frees its slot too.
    expect(decrypted.slice(0, 2)).toEqual(['RangeError', 'KeystoreError']);
    expect(decrypted.slice(2)).toEqual(keys);
    expect(inFlight.max).toBe(1);
    expect(inFlight.now).toBe(0);
  });
});
