import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  http,
  type Address,
  type Hex,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { startAnvil, type AnvilHandle } from './anvil.js';
import { deployDemoToken, getDevChain, hasCode, mintDemoToken, setBlocked, setDevBalance } from './devnet.js';
import { demoTokenAbi, demoTokenSourceSha256 } from '../dev/contracts/demo-token.artifact.js';

// anvil's well-known default account #0 (public test mnemonic).
const DEPLOYER_KEY: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const CHAIN_ID = 4242; // deliberately not 31337/1, to prove the chain comes from the node

let anvil: AnvilHandle;
let token: Address;

function clientsFor(key: Hex) {
  return (async () => {
    const chain = await getDevChain(anvil.rpcUrl);
    const account = privateKeyToAccount(key);
    return {
      account,
      pub: createPublicClient({ chain, transport: http(anvil.rpcUrl), pollingInterval: 100 }),
      wallet: createWalletClient({ account, chain, transport: http(anvil.rpcUrl) }),
    };
  })();
}

async function balanceOf(who: Address): Promise<bigint> {
  const { pub } = await clientsFor(DEPLOYER_KEY);
  return pub.readContract({ address: token, abi: demoTokenAbi, functionName: 'balanceOf', args: [who] });
}

/** A funded account holding `amount` demo tokens. */
async function fundedHolder(amount: bigint): Promise<Hex> {
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  await setDevBalance(anvil.rpcUrl, address, 10n ** 18n);
  await mintDemoToken({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: DEPLOYER_KEY, token, to: address, amount });
  return key;
}

beforeAll(async () => {
  anvil = await startAnvil({ chainId: CHAIN_ID, silent: true });
  token = (await deployDemoToken({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: DEPLOYER_KEY })).address;
});

afterAll(async () => {
  await anvil?.stop();
});

describe('demo token artifact', () => {
  it('matches contracts/DemoToken.sol (regenerate with node scripts/compile-contracts.mjs)', () => {
    const source = readFileSync(new URL('../../contracts/DemoToken.sol', import.meta.url), 'utf8');
    expect(createHash('sha256').update(source).digest('hex')).toBe(demoTokenSourceSha256);
  });
});

describe('devnet helpers against anvil', () => {
  it('deploys DemoToken with the expected metadata and owner', async () => {
    expect(await hasCode(anvil.rpcUrl, token)).toBe(true);
    const { pub, account } = await clientsFor(DEPLOYER_KEY);
    expect(await pub.getChainId()).toBe(CHAIN_ID);
    const read = <F extends 'name' | 'symbol' | 'decimals' | 'owner' | 'totalSupply'>(functionName: F) =>
      pub.readContract({ address: token, abi: demoTokenAbi, functionName });
    expect(await read('name')).toBe('Sluice Demo USD');
    expect(await read('symbol')).toBe('USDT');
    expect(await read('decimals')).toBe(6);
    expect(await read('owner')).toBe(account.address);
  });

  it('hasCode is false for an address without code', async () => {
    expect(await hasCode(anvil.rpcUrl, privateKeyToAccount(generatePrivateKey()).address)).toBe(false);
  });

  it('setDevBalance sets the exact native balance', async () => {
    const who = privateKeyToAccount(generatePrivateKey()).address;
    await setDevBalance(anvil.rpcUrl, who, 123_456_789n);
    const { pub } = await clientsFor(DEPLOYER_KEY);
    expect(await pub.getBalance({ address: who })).toBe(123_456_789n);
  });

  it('mint credits the recipient', async () => {
    const who = privateKeyToAccount(generatePrivateKey()).address;
    await mintDemoToken({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: DEPLOYER_KEY, token, to: who, amount: 5_000_000n });
    expect(await balanceOf(who)).toBe(5_000_000n);
  });

  it('mint by a non-owner is rejected', async () => {
    const stranger = generatePrivateKey();
    await setDevBalance(anvil.rpcUrl, privateKeyToAccount(stranger).address, 10n ** 18n);
    await expect(
      mintDemoToken({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: stranger, token, to: token, amount: 1n }),
    ).rejects.toThrow(/NotOwner/);
  });

  it('a transfer to a normal address succeeds and moves the balance', async () => {
    const holderKey = await fundedHolder(1_000_000n);
    const { wallet, pub, account } = await clientsFor(holderKey);
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const hash = await wallet.writeContract({ address: token, abi: demoTokenAbi, functionName: 'transfer', args: [to, 400_000n] });
    const receipt = await pub.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe('success');
    expect(await balanceOf(to)).toBe(400_000n);
    expect(await balanceOf(account.address)).toBe(600_000n);
  });

  it('a transfer to a blocked address reverts on chain and moves nothing', async () => {
    const holderKey = await fundedHolder(1_000_000n);
    const { wallet, pub, account } = await clientsFor(holderKey);
    const blockedAddr = privateKeyToAccount(generatePrivateKey()).address;
    await setBlocked({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: DEPLOYER_KEY, token, account: blockedAddr, blocked: true });

    // The revert is decodable to our custom error before sending...
    const sim = pub.simulateContract({ account, address: token, abi: demoTokenAbi, functionName: 'transfer', args: [blockedAddr, 1n] });
    const err = await sim.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BaseError);
    const reverted = (err as BaseError).walk((e) => e instanceof ContractFunctionRevertedError);
    expect((reverted as ContractFunctionRevertedError | null)?.data?.errorName).toBe('RecipientBlocked');

    // ...and with explicit gas (no estimation) it is mined as a failed transaction.
    const hash = await wallet.writeContract({
      address: token,
      abi: demoTokenAbi,
      functionName: 'transfer',
      args: [blockedAddr, 1n],
      gas: 100_000n,
    });
    const receipt = await pub.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe('reverted');
    expect(await balanceOf(blockedAddr)).toBe(0n);
    expect(await balanceOf(account.address)).toBe(1_000_000n);

    // Unblocking restores normal behaviour.
    await setBlocked({ rpcUrl: anvil.rpcUrl, deployerPrivateKey: DEPLOYER_KEY, token, account: blockedAddr, blocked: false });
    const ok = await wallet.writeContract({ address: token, abi: demoTokenAbi, functionName: 'transfer', args: [blockedAddr, 1n] });
    expect((await pub.waitForTransactionReceipt({ hash: ok })).status).toBe('success');
  });
});

describe('setDevBalance fallback (hardhat-like node)', () => {
  let server: Server;
  let url: string;
  const calls: { method: string; params: unknown }[] = [];
  let anvilErrorCode = -32601;

  beforeAll(async () => {
    // Minimal JSON-RPC stub: rejects anvil_* like hardhat does and records hardhat_* calls.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { id, method, params } = JSON.parse(body) as { id: number; method: string; params: unknown };
        calls.push({ method, params });
        const reply = method.startsWith('anvil_')
          ? { jsonrpc: '2.0', id, error: { code: anvilErrorCode, message: `Method ${method} is not supported` } }
          : { jsonrpc: '2.0', id, result: true };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('falls back to hardhat_setBalance when anvil_setBalance is not found', async () => {
    calls.length = 0;
    anvilErrorCode = -32601;
    const who = privateKeyToAccount(generatePrivateKey()).address;
    await setDevBalance(url, who, 255n);
    expect(calls.map((c) => c.method)).toEqual(['anvil_setBalance', 'hardhat_setBalance']);
    expect(calls[1]?.params).toEqual([who, '0xff']);
  });

  it('does not fall back on unrelated errors', async () => {
    calls.length = 0;
    anvilErrorCode = -32602; // invalid params: a real failure, not a missing method
    await expect(setDevBalance(url, privateKeyToAccount(generatePrivateKey()).address, 1n)).rejects.toThrow();
    expect(calls.map((c) => c.method)).not.toContain('hardhat_setBalance');
  });
});
