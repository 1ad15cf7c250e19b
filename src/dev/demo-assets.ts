import fs from 'node:fs';
import path from 'node:path';
import { type Address, type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { AssetRegistry } from '../assets/registry.js';
import { deployDemoToken, hasCode, mintDemoToken, setDevBalance } from '../chain/devnet.js';
import type { ChainRpc } from '../chain/rpc.js';
import { decryptKey, encryptKey } from '../keys/keystore-file.js';
import { parseUnits } from '../money/decimal.js';
import type { Logger } from '../observability/logger.js';
import { readContract } from 'viem/actions';
import { demoTokenAbi } from './contracts/demo-token.artifact.js';

const HOT_WALLET_ETH = parseEther('10000');
const HOT_WALLET_USDT = parseUnits('1000000000', 6);

/**
 * Registers ETH and the demo USDT on the dev chain, deploying the token on first start (or when
 * the chain no longer has it), and keeps the hot wallet stocked with both.
 */
export async function ensureDemoAssets(input: {
  rpc: ChainRpc;
  rpcUrl: string;
  chainName: string;
  assets: AssetRegistry;
  hotWallets: Address[];
  dataDir: string;
  keystorePassword: string;
  logger: Logger;
}): Promise<{ token: Address }> {
  const { rpc, rpcUrl, assets, hotWallets, logger } = input;
  const chainId = rpc.chain.chainId;

  for (const hotWallet of hotWallets) {
    const ethBalance = await rpc.read((c) => c.getBalance({ address: hotWallet }));
    if (ethBalance < HOT_WALLET_ETH / 10n) {
      await setDevBalance(rpcUrl, hotWallet, HOT_WALLET_ETH);
      logger.info({ wallet: hotWallet, chainId }, 'funded hot wallet with dev ETH');
    }
  }

  await assets.upsertAsset('ETH', 18);
  await assets.upsertNetwork({
    asset: 'ETH',
    chainId,
    chainName: input.chainName,
    kind: 'native',
    contract: null,
    decimals: 18,
    withdrawalFee: parseUnits('0.0001', 18),
    minAmount: parseUnits('0.000001', 18),
    maxAmount: parseUnits('1000', 18),
    gasLimit: 21_000,
    enabled: true,
  });

  const deployerKey = await loadDeployerKey(input.dataDir, input.keystorePassword);
  const existing = await assets.find('USDT', chainId);
  let token = existing?.contract ?? null;
  if (!token || !(await hasCode(rpcUrl, token))) {
    const deployer = privateKeyToAccount(deployerKey).address;
    await setDevBalance(rpcUrl, deployer, parseEther('100'));
    token = (await deployDemoToken({ rpcUrl, deployerPrivateKey: deployerKey })).address;
    logger.info({ chainId, token }, 'deployed demo USDT');
  }
  for (const hotWallet of hotWallets) {
    const tokenBalance = await rpc.read((c) => readContract(c, { address: token!, abi: demoTokenAbi, functionName: 'balanceOf', args: [hotWallet] }));
    if (tokenBalance < HOT_WALLET_USDT / 10n) {
      await mintDemoToken({ rpcUrl, deployerPrivateKey: deployerKey, token, to: hotWallet, amount: HOT_WALLET_USDT });
      logger.info({ wallet: hotWallet, token }, 'minted demo USDT to hot wallet');
    }
  }

  await assets.upsertAsset('USDT', 6);
  await assets.upsertNetwork({
    asset: 'USDT',
    chainId,
    chainName: input.chainName,
    kind: 'erc20',
    contract: token,
    decimals: 6,
    withdrawalFee: parseUnits('1', 6),
    minAmount: parseUnits('1', 6),
    maxAmount: parseUnits('1000000', 6),
    gasLimit: 100_000,
    enabled: true,
  });
  return { token };
}

/** The demo token's owner key: dev-only, encrypted like the hot wallet's, never a hot wallet. */
export async function loadDeployerKey(dataDir: string, password: string): Promise<Hex> {
  const file = path.join(dataDir, 'keystore', 'dev-deployer.json');
  if (fs.existsSync(file)) return decryptKey(JSON.parse(fs.readFileSync(file, 'utf8')), password);
  const key = generatePrivateKey();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(await encryptKey(key, password)), { mode: 0o600 });
  return key;
}
