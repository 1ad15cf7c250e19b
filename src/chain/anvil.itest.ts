import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getFreePort, startAnvil, type AnvilHandle } from './anvil.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-anvil-'));
const started: AnvilHandle[] = [];

async function start(opts: Parameters<typeof startAnvil>[0]): Promise<AnvilHandle> {
  const h = await startAnvil({ silent: true, ...opts });
  started.push(h);
  return h;
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // When the stopped anvil was our own child it may linger as a zombie until Node reaps it.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

afterAll(async () => {
  await Promise.allSettled(started.map((h) => h.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('getFreePort', () => {
  it('returns a port that can actually be bound', async () => {
    const port = await getFreePort();
    expect(port).toBeGreaterThan(0);
    await new Promise<void>((resolve, reject) => {
      const s = createServer().once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  });
});

describe('startAnvil', () => {
  it('starts a node with the requested chain id and stop() kills it', async () => {
    const h = await start({ chainId: 4242 });
    expect(h.reused).toBe(false);
    expect(alive(h.pid)).toBe(true);
    expect(Number(await rpc(h.rpcUrl, 'eth_chainId'))).toBe(4242);
    expect(await rpc(h.rpcUrl, 'web3_clientVersion')).toMatch(/^anvil\//);

    await h.stop();
    expect(alive(h.pid)).toBe(false);
    await expect(rpc(h.rpcUrl, 'eth_chainId')).rejects.toThrow();
    await h.stop(); // idempotent
  });

  it('writes no old block states to disk, and still serves old blocks and recent states', async () => {
    // anvil puts the states it no longer keeps in memory (past 500 blocks) under $HOME/.foundry
    // and never removes them; with its own HOME this anvil's files are countable.
    const home = mkdtempSync(join(dir, 'home-'));
    const ownHome = process.env.HOME;
    process.env.HOME = home;
    let h: AnvilHandle;
    try {
      h = await start({});
    } finally {
      process.env.HOME = ownHome;
    }
    await rpc(h.rpcUrl, 'anvil_mine', ['0x2bc']); // 700 blocks

    expect(readdirSync(home, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);
    expect(await rpc(h.rpcUrl, 'eth_getBlockByNumber', ['0x1', false])).toMatchObject({ number: '0x1' });
    // The nonce at a finality depth well past any chain's is still answered.
    expect(await rpc(h.rpcUrl, 'eth_getTransactionCount', ['0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '0x258'])).toBe('0x0');
  });

  it('mines on an interval when blockTime is set', async () => {
    const h = await start({ blockTime: 1 });
    const first = Number(await rpc(h.rpcUrl, 'eth_blockNumber'));
    await new Promise((r) => setTimeout(r, 2_300));
    expect(Number(await rpc(h.rpcUrl, 'eth_blockNumber'))).toBeGreaterThanOrEqual(first + 2);
    await h.stop();
  });

  it('refuses an explicit port that is already taken', async () => {
    const h = await start({});
    const port = Number(new URL(h.rpcUrl).port);
    await expect(startAnvil({ port, silent: true })).rejects.toThrow(/already in use/);
    await h.stop();
  });

  it('reports anvil stderr when it exits during startup', async () => {
    const bad = join(dir, 'corrupt-state.json');
    writeFileSync(bad, '{not json');
    await expect(startAnvil({ stateFile: bad, silent: true })).rejects.toThrow(/exited during startup.*failed to parse json/s);
  });

  it('restores block number and mined transactions from stateFile across a restart', async () => {
    const stateFile = join(dir, 'state', 'chain.json');
    const a = await start({ stateFile });
    const [from] = (await rpc(a.rpcUrl, 'eth_accounts')) as string[];
    const txHash = (await rpc(a.rpcUrl, 'eth_sendTransaction', [
      { from, to: '0x000000000000000000000000000000000000dEaD', value: '0x1' },
    ])) as string;
    await rpc(a.rpcUrl, 'anvil_mine', ['0x5']);
    const height = Number(await rpc(a.rpcUrl, 'eth_blockNumber'));
    expect(height).toBe(6);
    await a.stop();

    const b = await start({ stateFile });
    expect(Number(await rpc(b.rpcUrl, 'eth_blockNumber'))).toBe(height);
    const receipt = (await rpc(b.rpcUrl, 'eth_getTransactionReceipt', [txHash])) as { status: string } | null;
    expect(receipt?.status).toBe('0x1');
    expect(await rpc(b.rpcUrl, 'eth_getBalance', ['0x000000000000000000000000000000000000dEaD', 'latest'])).toBe('0x1');
    await b.stop();
  });
});

describe('startAnvil with pidFile', () => {
  it('reuses the live anvil named in the pid file, and stop() removes the file', async () => {
    const pidFile = join(dir, 'run', 'anvil.pid');
    const first = await start({ pidFile });
    const record = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; rpcUrl: string };
    expect(record).toMatchObject({ pid: first.pid, rpcUrl: first.rpcUrl });

    await rpc(first.rpcUrl, 'anvil_mine', ['0x3']);
    const second = await start({ pidFile });
    expect(second.reused).toBe(true);
    expect(second.pid).toBe(first.pid);
    expect(second.rpcUrl).toBe(first.rpcUrl);
    expect(Number(await rpc(second.rpcUrl, 'eth_blockNumber'))).toBe(3); // same chain, not a fresh one

    await second.stop();
    expect(alive(first.pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    await first.stop(); // already dead: must not throw
  });

  it('refuses to reuse a live anvil with a different chain id', async () => {
    const pidFile = join(dir, 'mismatch.pid');
    const h = await start({ pidFile, chainId: 31337 });
    await expect(startAnvil({ pidFile, chainId: 1337, silent: true })).rejects.toThrow(/does not match/);
    expect(alive(h.pid)).toBe(true);
    await h.stop();
  });

  it('ignores a stale pid file whose process is gone', async () => {
    const pidFile = join(dir, 'stale.pid');
    const old = await start({});
    await old.stop();
    writeFileSync(pidFile, JSON.stringify({ pid: old.pid, rpcUrl: old.rpcUrl, chainId: 31337 }));

    const h = await start({ pidFile });
    expect(h.reused).toBe(false);
    expect(h.pid).not.toBe(old.pid);
    expect(JSON.parse(readFileSync(pidFile, 'utf8'))).toMatchObject({ pid: h.pid });
    await h.stop();
  });
});
