import { describe, expect, it } from 'vitest';
import { createMemoryCache } from '../cache/memory-cache.js';
import type { Cache } from '../cache/types.js';
import { type CircuitOptions, EndpointHealth, bestHead, lagBlocks, rankForReads, sharedHealthKey } from './endpoint-health.js';

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const base: Partial<CircuitOptions> = {
  failureThreshold: 3,
  errorRateThreshold: 0.5,
  minSamples: 6,
  windowMs: 10_000,
  openBaseMs: 1_000,
  openMaxMs: 8_000,
  openOnTimeout: true,
  probeTimeoutMs: 5_000,
  latencyAlpha: 0.5,
};

function setup(options: Partial<CircuitOptions> = {}) {
  const c = clock();
  const h = new EndpointHealth({ ...base, ...options }, c.now);
  /** One call that succeeds after `ms`. */
  const ok = (ms = 10) => {
    const p = h.acquire();
    if (!p) throw new Error('no permit');
    c.advance(ms);
    h.succeed(p);
  };
  const bad = (kind: 'timeout' | 'error' = 'error', ms = 10) => {
    const p = h.acquire();
    if (!p) throw new Error('no permit');
    c.advance(ms);
    h.fail(p, kind);
  };
  return { c, h, ok, bad };
}

describe('endpoint health: circuit breaker', () => {
  it('opens after N consecutive failures, not before; a success resets the count', () => {
    const { h, ok, bad } = setup();
    bad();
    bad();
    ok();
    bad();
    bad();
    expect(h.circuit).toBe('closed');
    expect(h.consecutiveFailures).toBe(2);
    bad();
    expect(h.circuit).toBe('open');
    expect(h.acquire()).toBeNull();
  });

  it('opens when the error rate in the window passes the threshold, without N in a row', () => {
    const { h, ok, bad } = setup({ failureThreshold: 100 });
    // 2 of 3 failing: 66% > 50%, but only once minSamples are in the window.
    bad();
    bad();
    ok();
    bad();
    expect(h.circuit).toBe('closed'); // 4 samples < 6
    bad();
    ok();
    expect(h.circuit).toBe('closed');
    bad(); // 7 samples, 5 failed
    expect(h.circuit).toBe('open');
  });

  it('forgets failures older than the window', () => {
    const { c, h, ok, bad } = setup({ failureThreshold: 100 });
    for (let i = 0; i < 5; i++) bad();
    expect(h.errorRate()).toBe(1);
    c.advance(11_000);
    expect(h.errorRate()).toBe(0);
    ok();
    bad();
    expect(h.errorRate()).toBe(0.5);
    expect(h.circuit).toBe('closed');
  });

  it('opens at once on a timeout (a hanging endpoint)', () => {
    const { h, bad } = setup();
    bad('timeout', 5_000);
    expect(h.circuit).toBe('open');
  });

  it('can be told not to open on a single timeout', () => {
    const { h, bad } = setup({ openOnTimeout: false });
    bad('timeout');
    expect(h.circuit).toBe('closed');
  });

  it('half-opens after the backoff and lets exactly one probe through; its success closes the circuit', () => {
    const { c, h, ok, bad } = setup();
    bad('timeout');
    expect(h.retryAt).toBe(c.now() + 1_000);
    c.advance(999);
    expect(h.circuit).toBe('open');
    expect(h.available()).toBe(false);
    c.advance(1);
    expect(h.circuit).toBe('half-open');
    expect(h.available()).toBe(true);
    const probe = h.acquire();
    expect(probe?.probe).toBe(true);
    expect(h.available()).toBe(false);
    expect(h.acquire()).toBeNull(); // one probe at a time
    c.advance(20);
    h.succeed(probe!);
    expect(h.circuit).toBe('closed');
    expect(h.consecutiveFailures).toBe(0);
    expect(h.errorRate()).toBe(0); // a fresh start
    ok();
  });

  it('re-opens for twice as long when the probe fails, up to the maximum', () => {
    const { c, h, bad } = setup();
    bad('timeout');
    const periods: number[] = [];
    for (let i = 0; i < 5; i++) {
      c.advance(h.retryAt! - c.now());
      const probe = h.acquire()!;
      expect(probe.probe).toBe(true);
      c.advance(10);
      h.fail(probe);
      periods.push(h.retryAt! - c.now());
    }
    expect(periods).toEqual([2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('starts the backoff over after the circuit closed', () => {
    const { c, h, bad } = setup();
    bad('timeout');
    c.advance(1_000);
    h.fail(h.acquire()!); // 2 s
    c.advance(2_000);
    h.succeed(h.acquire()!); // closed
    bad('timeout');
    expect(h.retryAt! - c.now()).toBe(1_000);
  });

  it('ignores outcomes of calls that started before the circuit opened', () => {
    const { c, h, bad } = setup();
    const straggler = h.acquire()!;
    const late = h.acquire()!;
    bad('timeout');
    const until = h.retryAt;
    h.fail(straggler, 'timeout'); // must not extend the open period
    expect(h.retryAt).toBe(until);
    c.advance(1_000);
    h.succeed(late); // must not close it either: only the probe decides
    expect(h.circuit).toBe('half-open');
  });

  it('non-probe outcomes while half-open do not decide; the probe does', () => {
    const { c, h } = setup();
    const before = h.acquire()!;
    h.fail(h.acquire()!, 'timeout');
    c.advance(1_000);
    const probe = h.acquire()!;
    h.fail(before);
    expect(h.circuit).toBe('half-open');
    h.fail(probe);
    expect(h.circuit).toBe('open');
  });

  it('frees the probe slot when the probe never reports back', () => {
    const { c, h } = setup();
    h.fail(h.acquire()!, 'timeout');
    c.advance(1_000);
    expect(h.acquire()?.probe).toBe(true);
    c.advance(4_999);
    expect(h.acquire()).toBeNull();
    c.advance(1);
    expect(h.acquire()?.probe).toBe(true);
  });
});

describe('endpoint health: latency, head, state', () => {
  it('keeps an EWMA of answered calls only', () => {
    const { h, ok, bad } = setup({ failureThreshold: 100 });
    expect(h.latencyMs).toBeNull();
    ok(100);
    expect(h.latencyMs).toBe(100);
    ok(200);
    expect(h.latencyMs).toBe(150); // alpha 0.5
    bad('error', 5_000);
    expect(h.latencyMs).toBe(150);
  });

  it('is lagging when more than maxLag blocks behind the best head; open wins over lagging', () => {
    const { h, bad } = setup();
    expect(h.state(null, 2)).toBe('up');
    h.observeHead(100n);
    expect(h.state(102n, 2)).toBe('up');
    expect(h.state(103n, 2)).toBe('lagging');
    bad('timeout');
    expect(h.state(103n, 2)).toBe('open');
  });

  it('takes the best head from closed endpoints (answeredOnly: whose last call answered)', () => {
    const c = clock();
    const a = new EndpointHealth(base, c.now);
    const b = new EndpointHealth(base, c.now);
    const d = new EndpointHealth(base, c.now);
    a.observeHead(100n);
    b.observeHead(90n);
    expect(bestHead([a, b, d])).toBe(100n);
    a.fail(a.acquire()!, 'error'); // still closed, but it does not vouch for its head now
    expect(a.circuit).toBe('closed');
    expect(bestHead([a, b, d])).toBe(100n);
    expect(bestHead([a, b, d], true)).toBe(90n);
    a.succeed(a.acquire()!);
    expect(bestHead([a, b, d], true)).toBe(100n);
    a.fail(a.acquire()!, 'timeout');
    expect(a.circuit).toBe('open');
    expect(bestHead([a, b, d])).toBe(90n);
    expect(bestHead([d])).toBeNull();
    expect(lagBlocks(90n, 100n)).toBe(10);
    expect(lagBlocks(101n, 100n)).toBe(0);
    expect(lagBlocks(null, 100n)).toBeNull();
  });
});

describe('rankForReads', () => {
  function endpoints() {
    const c = clock();
    const make = (name: string, weight: number, head: bigint | null, latency: number) => {
      const health = new EndpointHealth(base, c.now);
      if (head !== null) health.observeHead(head);
      const p = health.acquire()!;
      c.advance(latency);
      health.succeed(p);
      return { name, weight, health };
    };
    return { c, make };
  }

  it('orders current endpoints by weight, then latency; unknown heads after; lagging and open never', () => {
    const { make } = endpoints();
    const fastLight = make('fast-light', 1, 100n, 5);
    const slowHeavy = make('slow-heavy', 3, 100n, 300);
    const fastHeavy = make('fast-heavy', 3, 99n, 20);
    const noHead = make('no-head', 5, null, 1);
    const lagging = make('lagging', 9, 90n, 1);
    const broken = make('broken', 9, 100n, 1);
    broken.health.fail(broken.health.acquire()!, 'timeout');
    const list = [fastLight, slowHeavy, fastHeavy, noHead, lagging, broken];
    expect(rankForReads(list, 2).map((e) => e.name)).toEqual(['fast-heavy', 'slow-heavy', 'fast-light', 'no-head']);
    expect(rankForReads(list, 2, true).map((e) => e.name)).toEqual(['fast-heavy', 'slow-heavy', 'fast-light']);
  });

  it('offers a half-open endpoint last, only while its probe slot is free', () => {
    const { c, make } = endpoints();
    const good = make('good', 1, 100n, 10);
    const recovering = make('recovering', 5, 100n, 10);
    recovering.health.fail(recovering.health.acquire()!, 'timeout');
    expect(rankForReads([recovering, good], 2).map((e) => e.name)).toEqual(['good']);
    c.advance(1_000);
    expect(rankForReads([recovering, good], 2).map((e) => e.name)).toEqual(['good', 'recovering']);
    expect(rankForReads([recovering, good], 2, true).map((e) => e.name)).toEqual(['good']);
    recovering.health.acquire();
    expect(rankForReads([recovering, good], 2).map((e) => e.name)).toEqual(['good']);
  });
});

describe('shared health (several processes, one cache)', () => {
  const KEY = sharedHealthKey(1, 'https://rpc.example/v3/SECRET');

  /** Trackers for the same endpoint in different "pods", sharing one cache and one clock. */
  function pods(makeCache: (now: () => number) => Cache = (now) => createMemoryCache({ now })) {
    const c = clock();
    const shared = makeCache(c.now);
    const pod = () => new EndpointHealth(base, c.now, { cache: shared, key: KEY, refreshMs: 500 });
    return { c, shared, pod };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it('names endpoints by chain and a hash of the URL, never the URL (it may carry an API key)', () => {
    expect(KEY).toMatch(/^rpc:1:[0-9a-f]{16}$/);
    expect(KEY).not.toContain('SECRET');
    expect(sharedHealthKey(2, 'https://rpc.example/v3/SECRET')).not.toBe(KEY);
    expect(sharedHealthKey(1, 'https://rpc.example/v3/OTHER')).not.toBe(KEY);
  });

  it("one pod's open circuit makes the endpoint suspect for the others until it would half-open", async () => {
    const { c, pod } = pods();
    const a = pod();
    const b = pod();
    a.fail(a.acquire()!, 'timeout');
    expect(a.circuit).toBe('open');
    await b.syncShared();
    expect(b.suspect).toBe(true);
    // Advice only: b's own circuit still decides whether it may call.
    expect(b.circuit).toBe('closed');
    expect(b.acquire()).not.toBeNull();
    c.advance(999);
    expect(b.suspect).toBe(true);
    c.advance(1);
    expect(b.suspect).toBe(false); // a's circuit half-opens now: a probes, the others need not wait
  });

  it('reads go to other endpoints first, the suspect one last (kept last among current ones too)', async () => {
    const { c, pod } = pods();
    const a = pod();
    const suspect = { name: 'shared-down', weight: 9, health: pod() };
    const other = { name: 'fine', weight: 1, health: new EndpointHealth(base, c.now) };
    const unknown = { name: 'no-head', weight: 1, health: new EndpointHealth(base, c.now) };
    suspect.health.observeHead(100n);
    other.health.observeHead(100n);
    const list = [suspect, other, unknown];
    expect(rankForReads(list, 2).map((e) => e.name)).toEqual(['shared-down', 'fine', 'no-head']);
    a.fail(a.acquire()!, 'timeout');
    await suspect.health.syncShared();
    expect(rankForReads(list, 2).map((e) => e.name)).toEqual(['fine', 'no-head', 'shared-down']);
    expect(rankForReads(list, 2, true).map((e) => e.name)).toEqual(['fine', 'shared-down']);
  });

  it('picks up the shared view in the background, at most once per refresh period', async () => {
    let reads = 0;
    const { c, pod } = pods((now) => {
      const inner = createMemoryCache({ now });
      return { ...inner, get: (k) => ((reads += 1), inner.get(k)) };
    });
    const a = pod();
    const b = pod();
    expect(b.suspect).toBe(false); // starts a read
    a.fail(a.acquire()!, 'timeout');
    await tick();
    expect(b.suspect).toBe(false); // the read saw nothing yet; the next is not due
    expect(reads).toBe(1);
    c.advance(500);
    expect(b.suspect).toBe(false); // due: starts a read
    await tick();
    expect(b.suspect).toBe(true);
    expect(reads).toBe(2);
  });

  it('a pod whose probe gets through clears the shared doubt', async () => {
    const { c, pod } = pods();
    const a = pod();
    const other = pod();
    const b = pod();
    a.fail(a.acquire()!, 'timeout'); // open until +1 s
    c.advance(500);
    other.fail(other.acquire()!, 'timeout'); // open until +1.5 s: the newer word
    await b.syncShared();
    expect(b.suspect).toBe(true);
    c.advance(500);
    const probe = a.acquire()!;
    expect(probe.probe).toBe(true);
    a.succeed(probe); // a reaches it again: closed, and the shared record goes
    expect(a.circuit).toBe('closed');
    expect(a.suspect).toBe(false);
    await tick();
    await b.syncShared();
    expect(b.suspect).toBe(false);
  });

  it('works on its own view alone when the cache is down or holds garbage', async () => {
    const broken: Cache = {
      get: async () => {
        throw new Error('down');
      },
      set: async () => {
        throw new Error('down');
      },
      del: async () => {
        throw new Error('down');
      },
      incr: async () => {
        throw new Error('down');
      },
      ping: async () => false,
      close: async () => undefined,
    };
    const { c, pod } = pods(() => broken);
    const a = pod();
    const b = pod();
    a.fail(a.acquire()!, 'timeout');
    expect(a.circuit).toBe('open'); // the local breaker does not need the cache
    await b.syncShared();
    expect(b.suspect).toBe(false);
    c.advance(1_000);
    a.succeed(a.acquire()!);
    expect(a.circuit).toBe('closed');

    const garbage = pods();
    await garbage.shared.set(KEY, 'not json', 10_000);
    const g = garbage.pod();
    await g.syncShared();
    expect(g.suspect).toBe(false);
  });
});
