import { describe, expect, it, vi } from 'vitest';
import { expectSignsLikeViem } from '../../test/support/signs-like-viem.js';

// As on a machine where neither optional addon (secp256k1, keccak) installed: every require fails.
vi.mock('node:module', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:module')>();
  return {
    ...original,
    createRequire: () => () => {
      throw new Error('addon not installed');
    },
  };
});

const { keccakBackend } = await import('./keccak.js');
const secp256k1 = await import('./secp256k1.js');
const { secp256k1Backend } = secp256k1;

describe('secp256k1 without the native addons', () => {
  it('signs with viem and recovers from the exact bytes, as the addons do', async () => {
    expect(secp256k1Backend).toBe('js');
    expect(keccakBackend).toBe('js');
    await expectSignsLikeViem(secp256k1);
  });
});
