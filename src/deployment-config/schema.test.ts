import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeploymentConfigError } from './errors.js';
import { parseDeploymentYaml, readDeploymentFile } from './read.js';
import { parseDeploymentConfig } from './schema.js';

const USDT = '0xdAC17F958D2ee523a2206206994597C13D831ec7';
const WALLET = '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A';

const valid = () => ({
  chains: [
    {
      chainId: 31337,
      name: 'Anvil Devnet',
      rpc: [{ url: 'http://127.0.0.1:8545', weight: 2 }, 'http://127.0.0.1:8546', { url: 'https://provider.example.com', batch: 1 }],
      confirmations: 2,
      maxFeePerGasGwei: '500',
      priorityFeeGwei: '1.5',
    },
  ],
  assets: [
    {
      symbol: 'USDT',
      ledgerDecimals: 6,
      networks: [
        { chainId: 31337, kind: 'erc20', contract: USDT, decimals: 18, withdrawalFee: '1.25', minAmount: '5', maxAmount: '100000' },
      ],
    },
    { symbol: 'ETH', ledgerDecimals: 18, networks: [{ chainId: 31337, kind: 'native', decimals: 18, withdrawalFee: '0.0005', minAmount: '0', maxAmount: '50' }] },
  ],
  hotWallets: [{ chainId: 31337, address: WALLET, keyRef: 'kms:alias/sluice-hot-1' }],
});

/** The problem lines of the DeploymentConfigError `fn` throws. */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof DeploymentConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a DeploymentConfigError');
}

describe('deployment file schema', () => {
  it('turns the file into exact base units and fills defaults', () => {
    const file = parseDeploymentConfig(valid());
    expect(file.chains[0]).toEqual({
      chainId: 31337,
      name: 'Anvil Devnet',
      rpc: [{ url: 'http://127.0.0.1:8545', weight: 2 }, { url: 'http://127.0.0.1:8546', weight: 1 }, { url: 'https://provider.example.com', weight: 1, batch: 1 }],
      confirmations: 2,
      maxFeePerGas: 500_000_000_000n,
      defaultPriorityFee: 1_500_000_000n,
      explorerUrl: null,
      enabled: true,
      maxPendingPerWallet: 16, // geth's per-sender default when the file does not say
    });
    const [usdt, eth] = file.assets;
    expect(usdt!.networks[0]).toMatchObject({ contract: USDT, withdrawalFee: 1_250_000n, minAmount: 5_000_000n, maxAmount: 100_000_000_000n, gasLimit: 100_000, enabled: true });
    expect(eth!.networks[0]).toMatchObject({ contract: null, withdrawalFee: 500_000_000_000_000n, gasLimit: 21_000 });
    expect(file.hotWallets[0]).toEqual({ chainId: 31337, address: WALLET, keyRef: 'kms:alias/sluice-hot-1', enabled: true });
  });

  it('names the path of every problem, all at once', () => {
    const raw = valid();
    (raw.chains[0]!.rpc as unknown[])[1] = { url: 'not a url' };
    (raw.chains[0]!.rpc as unknown[])[2] = { url: 'https://provider.example.com', batch: 0 };
    (raw.chains[0] as Record<string, unknown>).rpcs = [];
    (raw.assets[0]!.networks[0] as Record<string, unknown>).contract = USDT.toLowerCase();
    (raw.assets[1]!.networks[0] as Record<string, unknown>).contract = USDT;
    raw.hotWallets[0]!.keyRef = 'env:PRIVATE_KEY';
    expect(problems(() => parseDeploymentConfig(raw))).toEqual([
      'chains[0].rpc[1].url: must be a URL',
      'chains[0].rpc[2].batch: must be a whole number from 1 to 1000',
      'chains[0].rpcs: unknown key (misspelt? see docs/config-file.md)',
      `assets[0].networks[0].contract: must be checksummed (EIP-55): ${USDT}`,
      'assets[1].networks[0].contract: a native network has no contract',
      'hotWallets[0].keyRef: must be kms:…, secretsmanager:… or keystore:…',
    ]);
  });

  it('checks what only makes sense together: contract by kind, decimals, limits, fees, duplicates', () => {
    const raw = valid();
    delete (raw.assets[0]!.networks[0] as Record<string, unknown>).contract;
    (raw.assets[1]!.networks[0] as Record<string, unknown>).contract = USDT;
    raw.assets[0]!.networks[0]!.withdrawalFee = '0.0000001'; // 7 decimals, ledger has 6
    raw.assets[1]!.networks[0]!.minAmount = '60'; // above maxAmount
    raw.chains[0]!.priorityFeeGwei = '600';
    expect(problems(() => parseDeploymentConfig(raw))).toEqual([
      'chains[0].priorityFeeGwei: must not be more than maxFeePerGasGwei',
      'assets[0].networks[0].contract: is required for an erc20 network',
      'assets[0].networks[0].withdrawalFee: has more than 6 decimals',
      'assets[1].networks[0].contract: a native network has no contract',
      'assets[1].networks[0].minAmount: must not be more than maxAmount',
    ]);

    const dup = valid();
    dup.chains.push({ ...dup.chains[0]! });
    dup.hotWallets.push({ ...dup.hotWallets[0]! });
    expect(problems(() => parseDeploymentConfig(dup))).toEqual([
      'chains[1].chainId: chain 31337 is listed twice (first at chains[0].chainId)',
      `hotWallets[1].address: wallet ${WALLET}@31337 is listed twice (first at hotWallets[0].address)`,
    ]);
  });

  it('refuses YAML numbers where digits matter (amounts, addresses) and says why', () => {
    const yaml = `
hotWallets:
  - chainId: 31337
    address: 0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A
    keyRef: kms:alias/x
assets:
  - symbol: USDT
    ledgerDecimals: 6
    networks:
      - { chainId: 1, kind: native, decimals: 6, withdrawalFee: 1.10, minAmount: "1", maxAmount: "2" }
`;
    expect(problems(() => parseDeploymentYaml(yaml, 'sluice.yaml'))).toEqual([
      'assets[0].networks[0].withdrawalFee: must be a quoted string (a decimal such as "1.5"; a YAML number could lose precision)',
      'hotWallets[0].address: must be a quoted string (YAML reads an unquoted 0x… as a number)',
    ]);
  });

  it('reports missing fields, a mixed-case checksum typo and the zero address', () => {
    const raw = valid() as unknown as { chains: Record<string, unknown>[]; hotWallets: Record<string, unknown>[] };
    delete raw.chains[0]!.confirmations;
    raw.hotWallets.push({ chainId: 1, address: WALLET.replace('E7e7', 'e7E7'), keyRef: 'kms:a' });
    raw.hotWallets.push({ chainId: 1, address: `0x${'0'.repeat(40)}`, keyRef: 'kms:b' });
    expect(problems(() => parseDeploymentConfig(raw))).toEqual([
      'chains[0].confirmations: is required',
      'hotWallets[1].address: has an invalid EIP-55 checksum (a typo?)',
      'hotWallets[2].address: must not be the zero address',
    ]);
  });

  it('gives YAML syntax errors with line and column, and duplicate keys are errors', () => {
    const err = problems(() => parseDeploymentYaml('chains:\n  - chainId: 1\n    name: a\n    name: b\n', 'sluice.yaml'));
    expect(err[0]).toMatch(/^line 4, column 5: Map keys must be unique/);
    const flow = problems(() => parseDeploymentYaml('chains: [ { chainId: 1 }\nassets: []\n', 'sluice.yaml'));
    expect(flow[0]).toMatch(/^line \d+, column \d+: /);
  });

  it('says plainly when the file is missing, empty or not a mapping', () => {
    expect(() => readDeploymentFile('/nonexistent/sluice.yaml')).toThrow('Cannot read deployment file /nonexistent/sluice.yaml: no such file.');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cfg-'));
    try {
      fs.writeFileSync(path.join(dir, 'empty.yaml'), '# nothing yet\n');
      expect(() => readDeploymentFile(path.join(dir, 'empty.yaml'))).toThrow(`${path.join(dir, 'empty.yaml')} is empty.`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(problems(() => parseDeploymentYaml('- 1\n- 2\n'))).toEqual(['(file): the file must be a mapping with chains, assets and hotWallets']);
  });

  it('accepts the complete example in docs/config-file.md', () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/config-file.md'), 'utf8');
    const example = /## A complete example\s+```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const file = parseDeploymentYaml(example!, 'docs/config-file.md');
    expect(file.chains.map((c) => c.chainId)).toEqual([1, 31337]);
    expect(file.hotWallets[1]!.startNonce).toBe(17);
  });
});
