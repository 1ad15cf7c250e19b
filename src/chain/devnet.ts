// Dev-chain helpers over plain JSON-RPC, so they work against anvil and hardhat nodes alike.
import {
  BaseError,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  http,
  MethodNotFoundRpcError,
  MethodNotSupportedRpcError,
  type Address,
  type Chain,
  type Hash,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { demoTokenAbi, demoTokenBytecode } from '../dev/contracts/demo-token.artifact.js';

// Local nodes answer instantly; viem's 4s default would make every receipt wait slow.
const POLLING_INTERVAL_MS = 100;

/** A viem chain for whatever node is at rpcUrl: the id comes from the node itself. */
export async function getDevChain(rpcUrl: string): Promise<Chain> {
  const id = await createPublicClient({ transport: http(rpcUrl) }).getChainId();
  return defineChain({
    id,
    name: `devnet-${id}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

function publicClientFor(rpcUrl: string, chain: Chain): PublicClient {
  return createPublicClient({ chain, transport: http(rpcUrl), pollingInterval: POLLING_INTERVAL_MS });
}

function isUnsupportedMethod(err: unknown): boolean {
  return (
    err instanceof BaseError &&
    err.walk((e) => e instanceof MethodNotFoundRpcError || e instanceof MethodNotSupportedRpcError) !== null
  );
}

export async function setDevBalance(rpcUrl: string, address: Address, wei: bigint): Promise<void> {
  const client = (mode: 'anvil' | 'hardhat') => createTestClient({ mode, transport: http(rpcUrl) });
  try {
    await client('anvil').setBalance({ address, value: wei });
  } catch (err) {
    if (!isUnsupportedMethod(err)) throw err;
    await client('hardhat').setBalance({ address, value: wei });
  }
}

export async function hasCode(rpcUrl: string, address: Address): Promise<boolean> {
  const code = await createPublicClient({ transport: http(rpcUrl) }).getCode({ address });
  return code !== undefined && code !== '0x';
}

interface SignerParams {
  rpcUrl: string;
  deployerPrivateKey: Hex;
}

async function ownerClients({ rpcUrl, deployerPrivateKey }: SignerParams) {
  const chain = await getDevChain(rpcUrl);
  const account = privateKeyToAccount(deployerPrivateKey);
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  return { wallet, publicClient: publicClientFor(rpcUrl, chain) };
}

async function confirmed(publicClient: PublicClient, hash: Hash, what: string): Promise<TransactionReceipt> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') throw new Error(`${what} reverted (tx ${hash})`);
  return receipt;
}

export async function deployDemoToken(params: SignerParams): Promise<{ address: Address; txHash: Hash }> {
  const { wallet, publicClient } = await ownerClients(params);
  const txHash = await wallet.deployContract({ abi: demoTokenAbi, bytecode: demoTokenBytecode });
  const receipt = await confirmed(publicClient, txHash, 'DemoToken deployment');
  if (!receipt.contractAddress) throw new Error(`DemoToken deployment receipt has no contract address (tx ${txHash})`);
  return { address: receipt.contractAddress, txHash };
}

export async function mintDemoToken(
  params: SignerParams & { token: Address; to: Address; amount: bigint },
): Promise<{ txHash: Hash }> {
  const { wallet, publicClient } = await ownerClients(params);
  const txHash = await wallet.writeContract({
    address: params.token,
    abi: demoTokenAbi,
    functionName: 'mint',
    args: [params.to, params.amount],
  });
  await confirmed(publicClient, txHash, 'DemoToken mint');
  return { txHash };
}

/** Owner-only DemoToken switches, for tests that need a token to misbehave. */
async function ownerCall(
  params: SignerParams & { token: Address },
  functionName: 'setBlocked' | 'setFailSilently',
  args: readonly [Address, boolean],
): Promise<{ txHash: Hash }> {
  const { wallet, publicClient } = await ownerClients(params);
  const txHash = await wallet.writeContract({ address: params.token, abi: demoTokenAbi, functionName, args });
  await confirmed(publicClient, txHash, `DemoToken ${functionName}`);
  return { txHash };
}

/** Transfers to `account` revert. */
export function setBlocked(params: SignerParams & { token: Address; account: Address; blocked: boolean }) {
  return ownerCall(params, 'setBlocked', [params.account, params.blocked]);
}

/** Transfers to `account` return false and move nothing (no revert, no Transfer log). */
export function setFailSilently(params: SignerParams & { token: Address; account: Address; on: boolean }) {
  return ownerCall(params, 'setFailSilently', [params.account, params.on]);
}
