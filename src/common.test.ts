import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createShutdownController } from './common.js';
import { sleep } from './util/sleep.js';

/** The MaxListenersExceededWarning(s) Node emits while `fn` runs. */
async function leakWarnings(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error) => {
    if (w.name === 'MaxListenersExceededWarning') seen.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('the shutdown signal', () => {
  it('takes a waiter per message in flight without a false memory-leak warning', async () => {
    const shutdown = createShutdownController();
    expect(await leakWarnings(() => Promise.all(Array.from({ length: 64 }, () => sleep(5, shutdown.signal))).then(() => {}))).toEqual([]);
  });

  it('(a plain AbortController warns at 11 waiters, which is what the above avoids)', async () => {
    const plain = new AbortController();
    const warnings = await leakWarnings(() => Promise.all(Array.from({ length: 64 }, () => sleep(5, plain.signal))).then(() => {}));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/11 abort listeners/);
  });

  it('waiters that end leave no listener behind, and an abort still wakes every one waiting', async () => {
    const shutdown = createShutdownController();
    await Promise.all(Array.from({ length: 64 }, () => sleep(5, shutdown.signal)));
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    const waits = Array.from({ length: 64 }, () => sleep(60_000, shutdown.signal));
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(64);
    shutdown.abort();
    await Promise.all(waits);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });
});
