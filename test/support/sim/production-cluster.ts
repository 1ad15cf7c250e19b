import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Address, getAddress, parseEther, parseUnits } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { stringify as toYaml } from 'yaml';
import { getFreePort } from '../../../src/chain/anvil.js';
import { deployDemoToken, mintDemoToken, setDevBalance } from '../../../src/chain/devnet.js';
import { buildDist, ProductionStack, productionRoleEnv, RedisServer, requireServices } from '../production-stack.js';
import type { SimOptions } from './options.js';
import type { SluiceUnderTest } from './sluice-process.js';

type Role = 'api' | 'signer' | 'sender' | 'tracker';
type Member = { name: string; role: Role; port: number; expectingExit: boolean; ready: boolean; restarting?: Promise<void> };

export type ProductionSetup = {
  cluster: SluiceUnderTest;
  apiKey: string;
  /** Stops Redis (the processes are the cluster's to stop). */
  close(): Promise<void>;
};

/**
 * Sluice as production runs it, for `--topology production`: `api` ×1 and `signer`, `sender`,
 * `tracker` ×`replicas` as separate processes from dist/ on MariaDB, a private Redis, moto (SQS,
 * KMS, Secrets Manager), one KMS hot wallet and the rest in Secrets Manager, their chain reached
 * through the simulation's fault proxies. Set up by
 * the one-shots an operator runs (migrate, queues create, wallet create, config apply, api-key
 * create), the wallets funded and the demo USDT deployed by cheat calls, as `sluice dev` does for
 * itself. Chaos kills one process at a time; an exit nobody asked for is restarted, as Kubernetes
 * would, and reported.
 */
export async function setUpProduction(input: {
  options: SimOptions;
  rpcUrl: string;
  /** What the roles put in the chain's `rpc` list: the fault proxies. */
  rpcUrls: string[];
  /** The database URL the roles use (through the silence proxy when db-silence is on). */
  dbUrl: string;
  /** The roles' env beside the production settings (the run's timings, a statement timeout). */
  env: Record<string, string>;
  runDir: string;
  log(line: string): void;
  keepAlive(): boolean;
  /** Around the set-up and first start only: bootstrapping is plumbing, restarts under chaos are not. */
  onBooting?(): void;
  onReady?(): void;
}): Promise<ProductionSetup> {
  const { options } = input;
  input.onBooting?.();
  await requireServices();
  input.log('building dist/ for the role processes');
  await buildDist();
  const logDir = path.join(input.runDir, 'processes');
  // moto keeps its queues and key aliases across runs: a seed run again needs names of its own.
  const runTag = `sim-${options.seed}-${randomBytes(3).toString('hex')}`;
  const redis = new RedisServer(await getFreePort(), path.join(input.runDir, 'redis.log'));
  await redis.start();
  const stack = new ProductionStack(logDir, {
    ...productionRoleEnv({ dbUrl: input.dbUrl, redisUrl: redis.url, queuePrefix: runTag }),
    SLUICE_KEYSTORE_PASSWORD: 'sim-secrets-manager-password', // Secrets Manager holds the keys encrypted with it
    ...input.env,
  });
  try {
    await stack.oneShot(['migrate']);
    await stack.oneShot(['queues', 'create']);
    const chainId = await fetchChainId(input.rpcUrl);
    const wallets: Array<{ address: Address; keyRef: string }> = [];
    for (let w = 0; w < options.wallets; w++) {
      // Both deployed key stores; one KMS wallet only, since moto serves every KMS signature too.
      const store = w === 0 ? 'kms' : 'secrets-manager';
      const created = JSON.parse(await stack.oneShot(['wallet', 'create', '--chain', String(chainId), '--store', store, '--label', `${runTag}-hot-${w}`])) as { address: string; keyRef: string };
      wallets.push({ address: getAddress(created.address), keyRef: created.keyRef });
    }
    const deployerKey = generatePrivateKey();
    await setDevBalance(input.rpcUrl, privateKeyToAccount(deployerKey).address, parseEther('100'));
    const token = getAddress((await deployDemoToken({ rpcUrl: input.rpcUrl, deployerPrivateKey: deployerKey })).address);
    for (const w of wallets) {
      await setDevBalance(input.rpcUrl, w.address, parseEther('10000'));
      await mintDemoToken({ rpcUrl: input.rpcUrl, deployerPrivateKey: deployerKey, token, to: w.address, amount: parseUnits('1000000000', 6) });
    }
    // The same assets as `sluice dev` registers (src/dev/demo-assets.ts), so the workload plans alike.
    const config = {
      chains: [{ chainId, name: 'Anvil Devnet', rpc: input.rpcUrls, confirmations: options.confirmations, maxFeePerGasGwei: String(options.maxFeeGwei), priorityFeeGwei: '1' }],
      assets: [
        { symbol: 'ETH', ledgerDecimals: 18, networks: [{ chainId, kind: 'native', decimals: 18, withdrawalFee: '0.0001', minAmount: '0.000001', maxAmount: '1000' }] },
        { symbol: 'USDT', ledgerDecimals: 6, networks: [{ chainId, kind: 'erc20', contract: token, decimals: 6, withdrawalFee: '1', minAmount: '1', maxAmount: '1000000', gasLimit: 100000 }] },
      ],
      hotWallets: wallets.map((w) => ({ chainId, address: w.address, keyRef: w.keyRef })),
    };
    const file = path.join(logDir, 'sluice.yaml');
    fs.writeFileSync(file, toYaml(config));
    await stack.oneShot(['config', 'apply', file]);
    const scopes = 'withdrawals:write,withdrawals:read,ledger:write,ledger:read,admin';
    const apiKey = (JSON.parse(await stack.oneShot(['api-key', 'create', '--name', runTag, '--scopes', scopes])) as { key: string }).key;
    input.log(`production topology: api ×1, signer/sender/tracker ×${options.replicas} on MariaDB, Redis :${redis.port}, moto (SQS, KMS); logs in ${logDir}`);
    const cluster = await createCluster({ stack, replicas: options.replicas, keepAlive: input.keepAlive, onReady: input.onReady });
    return { cluster, apiKey, close: () => redis.stop().then(() => undefined) };
  } catch (err) {
    stack.killAll();
    await redis.stop().catch(() => undefined);
    throw new Error(`production set-up failed: ${(err as Error).message}\n${stack.tails(15)}`);
  }
}

async function fetchChainId(rpcUrl: string): Promise<number> {
  const res = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) });
  return Number(((await res.json()) as { result: string }).result);
}

async function createCluster(input: {
  stack: ProductionStack;
  replicas: number;
  keepAlive(): boolean;
  /** After the first start only. */
  onReady?(): void;
}): Promise<SluiceUnderTest> {
  const { stack } = input;
  const members: Member[] = [];
  const add = async (role: Role, count: number) => {
    for (let i = 0; i < count; i++) members.push({ name: `${role}-${i}`, role, port: await getFreePort(), expectingExit: false, ready: false });
  };
  await add('api', 1);
  await add('signer', input.replicas);
  await add('sender', input.replicas);
  await add('tracker', input.replicas);
  const unexpectedExits: string[] = [];
  let starts = 0;
  let booted = false;

  const running = (m: Member) => {
    const p = stack.roles.get(m.name)?.process;
    return !!p && p.exitCode === null && p.signalCode === null;
  };

  async function startMember(m: Member): Promise<void> {
    if (running(m)) return;
    starts += 1;
    m.expectingExit = false;
    m.ready = false;
    const proc = stack.start(m.name, m.role, m.port);
    void proc.exited.then((exit) => {
      m.ready = false;
      if (m.expectingExit || stack.roles.get(m.name) !== proc || !input.keepAlive()) return;
      unexpectedExits.push(`${m.name} exited by itself (code ${exit.code}, signal ${exit.signal}); see ${proc.logFile}`);
      // Back up, as the orchestrator would.
      m.restarting ??= startMember(m).finally(() => (m.restarting = undefined));
    });
    await stack.waitReady(m.name, 90_000);
    m.ready = true;
  }

  const pending = () => Promise.all(members.map((m) => m.restarting?.catch(() => undefined)));

  return {
    get url() {
      return stack.roles.get('api-0')!.url;
    },
    async start() {
      await pending();
      await Promise.all(members.map((m) => startMember(m)));
      if (!booted) input.onReady?.();
      booted = true;
    },
    async kill(signal, pick = 0) {
      await pending();
      const m = members[Math.min(members.length - 1, Math.floor(pick * members.length))]!;
      if (!running(m)) return `${m.name} (not running)`;
      m.expectingExit = true;
      m.ready = false;
      // The README's promise: a role exits within 30 s of SIGTERM.
      const exit = await stack.stop(m.name, signal, 30_000);
      if (exit.timedOut) unexpectedExits.push(`${m.name} did not exit within 30 s of ${signal}; see ${stack.roles.get(m.name)!.logFile}`);
      return m.name;
    },
    async stop(signal) {
      await pending();
      await Promise.all(
        members.map(async (m) => {
          m.expectingExit = true;
          m.ready = false;
          if (running(m)) await stack.stop(m.name, signal, 30_000);
        }),
      );
    },
    get up() {
      return members.every((m) => m.ready && running(m));
    },
    get unexpectedExits() {
      return unexpectedExits;
    },
    get starts() {
      return starts;
    },
    tail: (lines = 30) => stack.tails(Math.max(5, Math.ceil(lines / 3))),
    close: () => undefined,
  };
}
