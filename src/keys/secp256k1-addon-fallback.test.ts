import { describe, expect, it, vi } from 'vitest';
import { expectSignsLikeViem } from '../../test/support/signs-like-viem.js';

// As on a machine without libsecp256k1-dev, where npm ci could not build native/libsecp256k1: that
// require fails, the `secp256k1` addon still loads.
vi.mock('node:module', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:module')>();
  return {
    ...original,
    createRequire: (from: string | URL) => {
      const require = original.createRequire(from);
      return (id: string) => {
        if (id.endsWith('sluice_secp256k1.node')) throw new Error('binding not built');
        return require(id);
      };
    },
  };
});

const secp256k1 = await import('./secp256k1.js');
const { secp256k1Backend } = secp256k1;

describe('secp256k1 without the libsecp256k1 binding', () => {
  it('signs and recovers with the secp256k1 addon, the same bytes as viem', async () => {
    expect(secp256k1Backend).toBe('secp256k1-addon');
    await expectSignsLikeViem(secp256k1);
  });
});
