import {
  type Address,
  BaseError,
  createPublicClient,
  type Hash,
  type Hex,
  http,
  type PublicClient,
  TimeoutError,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  toHex,
} from 'viem';
import type { Cache } from '../cache/types.js';
import { keccak256Hex } from '../keys/keccak.js';
import { withDeadline } from '../util/deadline.js';
import { createMicroBatcher } from '../util/micro-batch.js';
import type { Logger } from '../observability/logger.js';
import { type CircuitOptions, EndpointHealth, type EndpointState, type Permit, bestHead, lagBlocks, rankForReads, sharedHealthKey } from './endpoint-health.js';
import { AlreadyKnownError, type ChainError, NodeTimeoutError, NodeUnavailableError } from './errors.js';
import { createRpcFetch } from './http-fetch.js';
import { toChainError } from './node-error.js';
import type { ChainConfig } from './types.js';

/**
 * How long an account's code, once read, is taken as current. The signer checks every native
 * payout's recipient, and an exchange pays the same addresses again and again. An address that
 * gets code within this window (a deployment, an EIP-7702 delegation) is paid with 21,000 gas: the
 * tx reverts and the withdrawal FAILS with the user's hold released. That can happen anyway
 * between the read and the tx's inclusion, a window of seconds to minutes; this widens it little.
 */
const CODE_MAX_AGE_MS = 30_000;
/** Addresses whose code is remembered at most (the oldest is forgotten first). */
const CODE_CACHE_LIMIT = 10_000;

export type FeeSuggestion = { baseFee: bigint; maxPriorityFeePerGas: bigint };

/** What `endpoints()` reports per endpoint, for metrics and the console. */
export type EndpointStatus = {
  /** protocol//host only: provider URLs often carry an API key in the path or query. */
  url: string;
  weight: number;
  state: EndpointState;
  head: bigint | null;
  lagBlocks: number | null;
  latencyMs: number | null;
  errorRate: number;
  consecutiveFailures: number;
};

/** Tuning beyond the chain's policy (timeout and lag limit come from `chain.policy`). */
export type ChainRpcOptions = {
  circuit?: Partial<CircuitOptions>;
  /** Head poll period while the client is in use. */
  headPollMs?: number;
  /**
   * `blockNumber()` and `blockHash()` refresh heads older than this before answering (0: always,
   * concurrent callers sharing one round of `eth_blockNumber`, one per usable endpoint).
   */
  headFreshMs?: number;
  /** After the first head answer of a round, wait at most this long for the others. */
  headGraceMs?: number;
  /** The head poll stops after this long without calls (and restarts with the next call). */
  idleMs?: number;
  /** Shares circuit state with other processes (Redis in production); advisory, see endpoint-health.ts. */
  cache?: Cache;
};

/** Calls gathered for one batched round (`code()`, `receipt()`, broadcasts); split per endpoint by its `batch`. */
const RPC_BATCH = 256;

/**
 * JSON-RPC calls per HTTP exchange when an endpoint names no `batch`. Providers cap batches
 * (some at 100, some lower; a few refuse them): `batch: 1` turns batching off for such an endpoint.
 */
const DEFAULT_ENDPOINT_BATCH = 100;

const DEFAULTS = { headPollMs: 1_000, headFreshMs: 0, headGraceMs: 200, idleMs: 30_000 };

type Endpoint = {
  url: string;
  redacted: string;
  weight: number;
  client: PublicClient;
  /** Same endpoint, JSON-RPC batching on: for `code()`, `receipt()` and broadcasts, whose calls come in bursts. */
  batchClient: PublicClient;
  health: EndpointHealth;
  /** The head poll in flight, so a hanging endpoint is never polled twice at once. */
  polling: Promise<void> | undefined;
  lastError: ChainError | NodeUnavailableError | undefined;
  /** State last logged, to log changes only. */
  logged: EndpointState;
};

type AnyChainError = ChainError | NodeUnavailableError;

/**
 * Redundant RPC access to one chain. Each endpoint has a health record (head, latency, error
 * rate, circuit breaker; see endpoint-health.ts). Reads go to the healthiest endpoint whose head
 * is current and fall over on retryable failures; "not found" answers are confirmed by a second
 * current endpoint; broadcasts go to every endpoint whose circuit is not open, because any single
 * node may be partitioned from the network. Every call times out after `policy.rpcTimeoutMs`.
 * Heads are polled (`eth_blockNumber`) only while the client is used; `close()` stops the poll.
 */
export function createChainRpc(chain: ChainConfig, logger: Logger, options: ChainRpcOptions = {}) {
  const { rpcTimeoutMs, maxHeadLagBlocks } = chain.policy;
  const opts = { ...DEFAULTS, ...options };
  const circuit: Partial<CircuitOptions> = { probeTimeoutMs: rpcTimeoutMs * 2, ...options.circuit };

  const fetchFn = createRpcFetch();
  const endpoints: Endpoint[] = chain.rpc.map(({ url, weight, batch = DEFAULT_ENDPOINT_BATCH }) => ({
    url,
    redacted: redact(url),
    weight,
    // No batching: one call is one HTTP exchange, so one failed exchange is one failure sample.
    // viem aborts the fetch (AbortController) when `timeout` passes, body read included.
    client: createPublicClient({ transport: http(url, { timeout: rpcTimeoutMs, retryCount: 0, batch: false, fetchFn }) }),
    // Calls made in the same tick share one HTTP exchange; the batched calls issue them together.
    batchClient: createPublicClient({ transport: http(url, { timeout: rpcTimeoutMs, retryCount: 0, batch: batch > 1 && { batchSize: batch, wait: 0 }, fetchFn }) }),
    health: new EndpointHealth(circuit, Date.now, options.cache && { cache: options.cache, key: sharedHealthKey(chain.chainId, url) }),
    polling: undefined,
    lastError: undefined,
    logged: 'up',
  }));

  // ---- health bookkeeping -------------------------------------------------------------------

  function best(): bigint | null {
    return bestHead(endpoints.map((e) => e.health));
  }

  function stateOf(e: Endpoint, head = best()): EndpointState {
    return e.health.state(head, maxHeadLagBlocks);
  }

  /** Logs endpoints whose state changed: warn when one goes down or lagging, info when it is back up. */
  function noteStates(): void {
    const head = best();
    for (const e of endpoints) {
      const state = stateOf(e, head);
      if (state === e.logged) continue;
      const from = e.logged;
      e.logged = state;
      const fields = {
        chainId: chain.chainId,
        endpoint: e.redacted,
        state,
        from,
        head: e.health.head === null ? null : Number(e.health.head),
        lagBlocks: lagBlocks(e.health.head, head),
        consecutiveFailures: e.health.consecutiveFailures,
        errorRate: Number(e.health.errorRate().toFixed(3)),
        retryInMs: e.health.retryAt === null ? undefined : Math.max(0, e.health.retryAt - Date.now()),
        err: state === 'open' || state === 'half-open' ? e.lastError?.shortMessage : undefined,
      };
      if (state === 'up') logger.info(fields, 'rpc endpoint recovered');
      else if (state === 'lagging') logger.warn(fields, 'rpc endpoint lagging; no reads go to it');
      else if (state === 'open' && from !== 'half-open') logger.warn(fields, 'rpc endpoint down; circuit open');
      else logger.debug(fields, 'rpc endpoint state changed'); // open ⇄ half-open: probes
    }
  }

  /** Runs one call on one endpoint under its permit and records the outcome. */
  /**
   * The transport's own timeout should end every call; this deadline is the backstop that
   * guarantees no caller (and no shared head-poll round) can ever wait forever on one.
   */
  const deadlineMs = rpcTimeoutMs * 2 + 500;
  async function attempt<T>(e: Endpoint, permit: Permit, fn: (client: PublicClient, endpoint: Endpoint) => Promise<T>): Promise<T> {
    try {
      const result = await withDeadline(fn(e.client, e), deadlineMs, () => new NodeTimeoutError(`RPC call gave no answer within ${deadlineMs} ms.`, { code: 'node_timeout' }));
      e.health.succeed(permit);
      return result;
    } catch (raw) {
      const err = toChainError(raw);
      if (err instanceof NodeUnavailableError) {
        e.lastError = err;
        e.health.fail(permit, isTimeout(raw) ? 'timeout' : 'error');
      } else {
        e.health.succeed(permit); // a node's verdict: the endpoint is healthy, the request was not
      }
      throw err;
    } finally {
      noteStates();
    }
  }

  // ---- heads ----------------------------------------------------------------------------------

  let lastRoundAt: number | undefined;
  /** When the last round of head polls settled: heads are about this old. */
  let lastRoundDoneAt: number | undefined;
  let round: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastUsedAt = 0;
  let closed = false;

  function pollHead(e: Endpoint): Promise<void> {
    if (e.polling) return e.polling;
    const permit = e.health.acquire();
    if (!permit) return Promise.resolve();
    const poll = attempt(e, permit, async (c) => BigInt(await c.request({ method: 'eth_blockNumber' })))
      .then((head) => {
        e.health.observeHead(head);
        noteStates();
      })
      .catch(() => undefined) // recorded by attempt
      .finally(() => {
        e.polling = undefined;
      });
    e.polling = poll;
    return poll;
  }

  /**
   * Polls every endpoint that may be called (closed, or half-open with its probe slot free).
   * Resolves when all have answered, or `headGraceMs` after the first head arrived: a slow or
   * hanging endpoint delays nobody for long (its late answer still updates its head).
   */
  function refreshHeads(): Promise<void> {
    if (round) return round;
    lastRoundAt = Date.now();
    const polls = endpoints.map((e) => pollHead(e));
    const started = lastRoundAt;
    round = new Promise<void>((resolve) => {
      let grace: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(grace);
        resolve();
      };
      for (const [i, p] of polls.entries()) {
        void p.then(() => {
          const at = endpoints[i]!.health.headAt;
          if (grace === undefined && at !== null && at >= started) grace = setTimeout(done, opts.headGraceMs);
        });
      }
      void Promise.all(polls).then(done);
      setTimeout(done, deadlineMs + 100).unref(); // never a round that outlives its calls
    }).finally(() => {
      round = undefined;
      lastRoundDoneAt = Date.now();
    });
    return round;
  }

  /** Marks the client in use (starting the head poll) and makes sure heads are at most `maxAgeMs` old. */
  async function ready(maxAgeMs: number): Promise<void> {
    lastUsedAt = Date.now();
    if (!timer && !closed) {
      timer = setInterval(() => {
        if (Date.now() - lastUsedAt > opts.idleMs) {
          clearInterval(timer);
          timer = undefined;
          return;
        }
        if (lastRoundAt === undefined || Date.now() - lastRoundAt >= opts.headPollMs / 2) void refreshHeads();
      }, opts.headPollMs);
      timer.unref();
    }
    // A round in flight is joined only when the heads are too old without it (or unknown yet).
    if (lastRoundDoneAt === undefined || Date.now() - lastRoundDoneAt >= maxAgeMs) await refreshHeads();
  }

  /** Heads older than this are re-polled before routing (the poll normally keeps them fresher). */
  const staleMs = Math.max(opts.headPollMs * 3, 2_000);

  // ---- routing --------------------------------------------------------------------------------

  function unavailable(what: string, last?: AnyChainError): NodeUnavailableError {
    if (last instanceof NodeUnavailableError) return last;
    const retryAt = endpoints.map((e) => e.health.retryAt).filter((t): t is number => t !== null);
    const meta = retryAt.length ? [`Next probe in ${Math.max(0, Math.min(...retryAt) - Date.now())} ms.`] : [];
    return new NodeUnavailableError(`No usable RPC endpoint for ${what} on chain ${chain.chainId} (${endpoints.length} configured: down, lagging or failing).`, {
      code: 'node_unavailable',
      metaMessages: meta,
      cause: last,
    });
  }

  /**
   * Runs `fn` on the best endpoint; when that endpoint gives no usable answer (NodeUnavailableError:
   * unreachable, 5xx, rate-limited, timed out, lagging), on the next. A node's verdict (any other
   * ChainError) is thrown at once, not asked elsewhere.
   */
  async function read<T>(fn: (client: PublicClient, endpoint: Endpoint) => Promise<T>): Promise<T> {
    await ready(staleMs);
    let last: AnyChainError | undefined;
    for (const e of rankForReads(endpoints, maxHeadLagBlocks)) {
      const permit = e.health.acquire();
      if (!permit) continue;
      try {
        return await attempt(e, permit, fn);
      } catch (err) {
        if (!(err instanceof NodeUnavailableError)) throw err; // a node's verdict
        last = err as AnyChainError;
      }
    }
    throw unavailable('reads', last);
  }

  /**
   * A read whose negative answer (null, false) must not come from a lagging or broken node: asks
   * current endpoints only, and confirms a negative with a second current endpoint when there is
   * one. Any positive answer wins. A negative that no other current endpoint could confirm (they
   * failed) is not trusted: NodeUnavailableError.
   */
  async function readConfirmed<T>(
    what: string,
    fn: (client: PublicClient) => Promise<T>,
    isNegative: (v: T) => boolean,
    maxAgeMs = staleMs,
    prefer?: (e: Endpoint) => boolean,
  ): Promise<T> {
    const [value] = await readConfirmedEach(what, [null], async (e) => [await fn(e.client)], isNegative, maxAgeMs, prefer);
    return value!;
  }

  /**
   * `readConfirmed` for many keys at once: `fn` asks one endpoint about several keys (one
   * JSON-RPC batch, one health sample) and answers one value per key, in order. A key with a
   * positive answer is done; a key with a negative one is asked again on the next current endpoint,
   * with the other unconfirmed keys only. Each key ends as `readConfirmed` would end it alone; a
   * key that cannot be settled fails the whole call.
   */
  async function readConfirmedEach<K, T>(
    what: string,
    keys: K[],
    fn: (endpoint: Endpoint, keys: K[]) => Promise<T[]>,
    isNegative: (v: T) => boolean,
    maxAgeMs = staleMs,
    prefer?: (e: Endpoint) => boolean,
  ): Promise<T[]> {
    await ready(maxAgeMs);
    let ranked = rankForReads(endpoints, maxHeadLagBlocks, true);
    if (prefer) ranked = [...ranked.filter(prefer), ...ranked.filter((e) => !prefer(e))];
    const results: T[] = new Array<T>(keys.length);
    /** Indices of keys without a trusted answer yet. */
    let open = keys.map((_, i) => i);
    /** Keys one endpoint answered negatively: the next negative confirms it. */
    const negativeOnce = new Set<number>();
    let last: AnyChainError | undefined;
    const answered = new Set<Endpoint>();
    for (const e of ranked) {
      if (open.length === 0) break;
      const permit = e.health.acquire();
      if (!permit) continue;
      let values: T[];
      try {
        const asked: K[] = [];
        for (const i of open) asked.push(keys[i]!);
        values = await attempt(e, permit, (_, endpoint) => fn(endpoint, asked));
      } catch (err) {
        if (!(err instanceof NodeUnavailableError)) throw err; // a node's verdict
        last = err as AnyChainError;
        continue;
      }
      answered.add(e);
      const stillOpen: number[] = [];
      for (let n = 0; n < open.length; n++) {
        const i = open[n]!;
        const value = values[n] as T;
        results[i] = value;
        if (!isNegative(value) || negativeOnce.has(i)) continue; // positive, or confirmed by a second endpoint
        negativeOnce.add(i);
        stillOpen.push(i);
      }
      open = stillOpen;
    }
    // No second opinion: fine if no other endpoint is current any more (say its circuit just
    // opened); otherwise one that is still current could not be asked, so do not trust it.
    if (open.length === 0) return results;
    if (open.every((i) => negativeOnce.has(i)) && rankForReads(endpoints, maxHeadLagBlocks, true).every((e) => answered.has(e))) return results;
    throw unavailable(negativeOnce.size > 0 ? `confirming ${what}` : what, last);
  }

  /**
   * Sends the same signed bytes to every endpoint whose circuit is not open, in parallel, many txs
   * per HTTP exchange (one JSON-RPC batch per endpoint; each element gets the node's own answer,
   * and the exchange is one health sample). A tx is done as soon as one endpoint accepted it (or
   * already had it); otherwise, once every endpoint answered, it fails with the most telling error:
   * a node's verdict beats "unreachable". A slow endpoint holds up no tx another one accepted.
   */
  async function broadcastMany(raws: Hex[]): Promise<Array<AnyChainError | null>> {
    void ready(Number.POSITIVE_INFINITY); // keeps the head poll going; a broadcast needs no head
    const targets: Array<{ e: Endpoint; permit: Permit }> = [];
    for (const e of endpoints) {
      const permit = e.health.acquire();
      if (permit) targets.push({ e, permit });
    }
    if (targets.length === 0) return raws.map(() => unavailable('broadcasts'));
    const errors: AnyChainError[][] = raws.map(() => []);
    const outcome: Array<AnyChainError | null | undefined> = raws.map(() => undefined);
    let undecided = raws.length;
    return new Promise((resolve) => {
      const decide = (i: number, value: AnyChainError | null) => {
        if (outcome[i] !== undefined) return;
        outcome[i] = value;
        undecided -= 1;
        if (undecided === 0) resolve(outcome as Array<AnyChainError | null>);
      };
      let answered = 0;
      for (const { e, permit } of targets) {
        const exchange = attempt(e, permit, async (_, endpoint) => {
          const settled = await Promise.allSettled(raws.map((raw) => endpoint.batchClient.request({ method: 'eth_sendRawTransaction', params: [raw] })));
          const verdicts = settled.map((r) => (r.status === 'fulfilled' ? null : toChainError(r.reason)));
          // Every element unreachable: the exchange failed, and the endpoint's health says so.
          const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed && verdicts.every((v) => v instanceof NodeUnavailableError)) throw failed.reason;
          return verdicts;
        });
        void exchange.then(
          (verdicts) => {
            for (const [i, v] of verdicts.entries()) {
              if (v === null || v instanceof AlreadyKnownError) decide(i, null);
              else errors[i]!.push(v);
            }
          },
          (err: AnyChainError) => {
            for (const list of errors) list.push(err);
          },
        ).finally(() => {
          answered += 1;
          if (answered < targets.length) return;
          for (const [i, list] of errors.entries()) decide(i, list.find((x) => !(x instanceof NodeUnavailableError)) ?? list[0]!);
        });
      }
    });
  }

  const broadcasts = createMicroBatcher<Hex, AnyChainError | null>({ maxSize: RPC_BATCH, concurrency: 4, run: broadcastMany });

  /** Broadcasts one signed tx (see broadcastMany); concurrent calls share JSON-RPC batches. */
  async function broadcast(raw: Hex): Promise<Hash> {
    const err = await broadcasts.submit(raw);
    if (err) throw err;
    // A typed transaction's hash is the keccak of its signed bytes, whoever accepted it.
    return keccak256Hex(raw);
  }

  /**
   * Account code, many addresses per HTTP exchange: concurrent callers (the signer checks every
   * native payout's recipient) are gathered into one JSON-RPC batch on one endpoint, with the same
   * failover as `read` (a failed exchange is one failure sample of that endpoint).
   */
  const codes = createMicroBatcher<Address, Hex>({
    maxSize: RPC_BATCH,
    concurrency: 4,
    run: (addresses) =>
      read((_, e) => Promise.all(addresses.map(async (address) => (await e.batchClient.getCode({ address })) ?? '0x'))),
  });

  /** Recently read account code by lowercase address, oldest first (see CODE_MAX_AGE_MS). */
  const codeSeen = new Map<string, { code: Hex; at: number }>();

  /** Native balances at the latest block, many per HTTP exchange, as `code()`: the signer's pool plan asks for every lane's at once. */
  const balances = createMicroBatcher<Address, bigint>({
    maxSize: RPC_BATCH,
    concurrency: 4,
    run: (addresses) =>
      read((_, e) => {
        // A loop, not a callback per batch: V8 drops such callbacks' optimized code at every full collection (ledger.ts).
        const calls: Array<Promise<bigint>> = [];
        for (const address of addresses) calls.push(e.batchClient.getBalance({ address }));
        return Promise.all(calls);
      }),
  });

  /**
   * Receipts, many per HTTP exchange: the tracker asks for the receipts of every lane's newly
   * mined txs at once. "Not found" is confirmed per hash as `readConfirmed` does.
   */
  const receipts = createMicroBatcher<Hash, TransactionReceipt | null>({
    maxSize: RPC_BATCH,
    concurrency: 4,
    run: (hashes) =>
      readConfirmedEach(
        'a missing receipt',
        hashes,
        (e, batch) => {
          const calls: Array<Promise<TransactionReceipt | null>> = [];
          for (const hash of batch) calls.push(receiptOn(e.batchClient, hash));
          return Promise.all(calls);
        },
        (r) => r === null,
      ),
  });

  // ---- the client ---------------------------------------------------------------------------

  return {
    chain,
    read: <T>(fn: (client: PublicClient) => Promise<T>): Promise<T> => read((c) => fn(c)),
    broadcast,

    /** The native balance of `address` at the latest block; concurrent calls share JSON-RPC batches. */
    balance: (address: Address): Promise<bigint> => balances.submit(address),

    /** The code at `address` ('0x' for none), as read within CODE_MAX_AGE_MS; concurrent calls share JSON-RPC batches. */
    async code(address: Address): Promise<Hex> {
      const key = address.toLowerCase();
      const seen = codeSeen.get(key);
      if (seen && Date.now() - seen.at < CODE_MAX_AGE_MS) return seen.code;
      const code = await codes.submit(address);
      codeSeen.delete(key);
      if (codeSeen.size >= CODE_CACHE_LIMIT) codeSeen.delete(codeSeen.keys().next().value!);
      codeSeen.set(key, { code, at: Date.now() });
      return code;
    },

    async suggestFees(): Promise<FeeSuggestion> {
      return read(async (c) => {
        const [block, tip] = await Promise.all([
          c.getBlock({ blockTag: 'latest' }),
          c.request({ method: 'eth_maxPriorityFeePerGas' }).then(BigInt, () => chain.defaultPriorityFee),
        ]);
        return { baseFee: block.baseFeePerGas ?? 0n, maxPriorityFeePerGas: tip };
      });
    },

    /** The best current head: the highest head among healthy endpoints, polled now (see `headFreshMs`). */
    async blockNumber(): Promise<bigint> {
      await ready(opts.headFreshMs);
      // Only endpoints whose last call answered vouch for the head now.
      const head = bestHead(endpoints.map((e) => e.health), true);
      if (head === null) throw unavailable('the head', endpoints.find((e) => e.lastError)?.lastError);
      return head;
    },

    /**
     * null when no current endpoint knows a receipt for this hash (pending, dropped or reorged
     * out); a "not found" is confirmed by a second current endpoint when there is one. Concurrent
     * calls share JSON-RPC batches.
     */
    receipt: (hash: Hash): Promise<TransactionReceipt | null> => receipts.submit(hash),

    /** The canonical block hash at `number`, or null when the chain is not that high (confirmed). */
    blockHash: (number: bigint): Promise<Hash | null> =>
      readConfirmed(
        'a missing block',
        async (c) => {
          const block = (await c.request({ method: 'eth_getBlockByNumber', params: [toHex(number), false] })) as { hash: Hash | null } | null;
          return block?.hash ?? null;
        },
        (h) => h === null,
        opts.headFreshMs,
        (e) => e.health.head !== null && e.health.head >= number,
      ),

    /** Whether a current endpoint's node knows this transaction (pool or chain); "no" is confirmed. */
    knowsTransaction: (hash: Hash): Promise<boolean> =>
      readConfirmed(
        'an unknown transaction',
        async (c) => (await c.request({ method: 'eth_getTransactionByHash', params: [hash] })) !== null,
        (known) => !known,
      ),

    transactionCount: (address: `0x${string}`, blockTag: 'latest' | 'pending' | bigint): Promise<number> =>
      read((c) => (typeof blockTag === 'bigint' ? c.getTransactionCount({ address, blockNumber: blockTag }) : c.getTransactionCount({ address, blockTag }))),

    chainId: () => read((c) => c.getChainId()),

    genesisHash: () => read(async (c) => (await c.getBlock({ blockNumber: 0n })).hash),

    /** Each endpoint's health, for metrics and the console. */
    endpoints(): EndpointStatus[] {
      const head = best();
      return endpoints.map((e) => ({
        url: e.redacted,
        weight: e.weight,
        state: stateOf(e, head),
        head: e.health.head,
        lagBlocks: lagBlocks(e.health.head, head),
        latencyMs: e.health.latencyMs === null ? null : Math.round(e.health.latencyMs * 10) / 10,
        errorRate: e.health.errorRate(),
        consecutiveFailures: e.health.consecutiveFailures,
      }));
    },

    /** Stops the head poll for good (calls still work, refreshing heads on demand). */
    close(): void {
      closed = true;
      clearInterval(timer);
      timer = undefined;
    },
  };
}

export type ChainRpc = ReturnType<typeof createChainRpc>;

async function receiptOn(client: PublicClient, hash: Hash): Promise<TransactionReceipt | null> {
  try {
    return await client.getTransactionReceipt({ hash });
  } catch (err) {
    if (err instanceof TransactionReceiptNotFoundError) return null;
    throw err;
  }
}

function isTimeout(err: unknown): boolean {
  if (err instanceof NodeTimeoutError) return true;
  return err instanceof BaseError && err.walk((e) => e instanceof TimeoutError) !== null;
}

function redact(url: string): string {
  // Provider URLs often carry an API key in the path or query.
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'invalid-url';
  }
}
