import { describe, expect, it } from 'vitest';
import { type PauseState, pauseReason, scopeKey } from './pause.js';

const state = (over: Partial<PauseState> = {}): PauseState => ({
  global: { paused: false, reason: null, by: null, at: null },
  chains: new Map(),
  networks: new Map(),
  ...over,
});

describe('pause switches', () => {
  it('pause a withdrawal by its network, its chain, or everything; nothing else', () => {
    const meta = { by: 'user:ann', at: 1 };
    expect(pauseReason(state(), 1, 'ETH')).toBeNull();
    const network = state({ networks: new Map([['USDT:1', { asset: 'USDT', chainId: 1, reason: 'token paused', ...meta }]]) });
    expect(pauseReason(network, 1, 'USDT')).toBe('USDT withdrawals on chain 1 are paused: token paused');
    expect(pauseReason(network, 1, 'ETH')).toBeNull();
    expect(pauseReason(network, 10, 'USDT')).toBeNull();
    const chain = state({ chains: new Map([[10, { reason: 'reorg storm', ...meta }]]) });
    expect(pauseReason(chain, 10, 'ETH')).toBe('Withdrawals on chain 10 are paused: reorg storm');
    expect(pauseReason(chain, 1, 'ETH')).toBeNull();
    const all = state({ global: { paused: true, reason: 'incident', ...meta } });
    expect(pauseReason(all, 1, 'ETH')).toBe('All withdrawals are paused: incident');
  });

  it('keys each scope apart', () => {
    expect(new Set([scopeKey({ scope: 'global' }), scopeKey({ scope: 'chain', chainId: 1 }), scopeKey({ scope: 'network', chainId: 1, asset: 'ETH' })]).size).toBe(3);
  });
});
