import { getAddress } from 'viem';
import { z } from 'zod';
import type { ChainRecord } from '../chain/chain-registry.js';
import { DecimalFormatError, MAX_LEDGER_UNITS, parseUnits } from '../money/decimal.js';
import { DeploymentConfigError } from './errors.js';

/**
 * The deployment file (`sluice.yaml`): chains, assets with their networks, hot wallets.
 * docs/config-file.md documents every field. Unknown keys are refused everywhere: a misspelt
 * optional key would otherwise be silently ignored and its default applied.
 * Amounts are decimal strings, turned into integer base units here (never via JS numbers).
 */

const GWEI_DECIMALS = 9;
const MAX_DECIMALS = 36;

const required = { required_error: 'is required' };

const int = (min: number, max: number) =>
  z
    .number({ ...required, invalid_type_error: `must be a whole number from ${min} to ${max}` })
    .int(`must be a whole number from ${min} to ${max}`)
    .min(min, `must be a whole number from ${min} to ${max}`)
    .max(max, `must be a whole number from ${min} to ${max}`);

const bool = z.boolean({ invalid_type_error: 'must be true or false' });

/** Strings only: YAML turns an unquoted 0x… or 1.10 into a number, losing digits before we ever see them. */
const quoted = (what: string) => z.string({ ...required, invalid_type_error: `must be a quoted string (${what})` });

const httpUrl = quoted('a URL').superRefine((v, ctx) => {
  if (!URL.canParse(v)) return void ctx.addIssue({ code: 'custom', message: 'must be a URL' });
  if (!['http:', 'https:'].includes(new URL(v).protocol)) ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
  if (v.length > 255) ctx.addIssue({ code: 'custom', message: 'must be at most 255 characters' });
});

/** A decimal string turned into integer units with at most `decimals` decimals. */
function units(value: string, decimals: number, ctx: z.RefinementCtx, path: (string | number)[]): bigint | undefined {
  try {
    return parseUnits(value, decimals);
  } catch (err) {
    const tooMany = err instanceof DecimalFormatError && err.reason === 'too_many_decimals';
    ctx.addIssue({ code: 'custom', path, message: tooMany ? `has more than ${decimals} decimals` : 'must be a decimal string such as "1.5"' });
    return undefined;
  }
}

const decimalString = quoted('a decimal such as "1.5"; a YAML number could lose precision');

const address = quoted('YAML reads an unquoted 0x… as a number').superRefine((v, ctx) => {
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) return void ctx.addIssue({ code: 'custom', message: 'must be a 0x-prefixed 20-byte hex address' });
  if (/^0x0{40}$/.test(v)) return void ctx.addIssue({ code: 'custom', message: 'must not be the zero address' });
  const checksummed = getAddress(v);
  if (checksummed === v) return;
  // All lower (or upper) case is merely unchecksummed; mixed case with a wrong checksum is likely a typo.
  const message = v.slice(2) === v.slice(2).toLowerCase() || v.slice(2) === v.slice(2).toUpperCase()
    ? `must be checksummed (EIP-55): ${checksummed}`
    : 'has an invalid EIP-55 checksum (a typo?)';
  ctx.addIssue({ code: 'custom', message });
}) as unknown as z.ZodType<`0x${string}`, z.ZodTypeDef, string>;

const chainId = int(1, Number.MAX_SAFE_INTEGER);

const rpcEndpoint = z.preprocess(
  (v) => (typeof v === 'string' ? { url: v } : v),
  z.object({ url: httpUrl, weight: int(1, 1000).default(1), batch: int(1, 1000).optional() }, { invalid_type_error: 'must be a URL or { url, weight, batch }' }).strict(),
);

const chain = z
  .object({
    chainId,
    name: quoted('a name').min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
    rpc: z.array(rpcEndpoint, { ...required, invalid_type_error: 'must be a list of URLs or { url, weight, batch }' }).min(1, 'needs at least one endpoint'),
    confirmations: int(1, 10_000),
    maxFeePerGasGwei: decimalString,
    priorityFeeGwei: decimalString,
    explorerUrl: httpUrl.optional(),
    enabled: bool.default(true),
    maxPendingPerWallet: int(1, 100_000).default(16),
  })
  .strict()
  .transform((c, ctx): ChainRecord => {
    const maxFeePerGas = units(c.maxFeePerGasGwei, GWEI_DECIMALS, ctx, ['maxFeePerGasGwei']);
    const defaultPriorityFee = units(c.priorityFeeGwei, GWEI_DECIMALS, ctx, ['priorityFeeGwei']);
    if (maxFeePerGas === 0n) ctx.addIssue({ code: 'custom', path: ['maxFeePerGasGwei'], message: 'must be more than 0' });
    if (maxFeePerGas !== undefined && defaultPriorityFee !== undefined && defaultPriorityFee > maxFeePerGas) {
      ctx.addIssue({ code: 'custom', path: ['priorityFeeGwei'], message: 'must not be more than maxFeePerGasGwei' });
    }
    return {
      chainId: c.chainId,
      name: c.name,
      rpc: c.rpc,
      confirmations: c.confirmations,
      maxFeePerGas: maxFeePerGas ?? 0n,
      defaultPriorityFee: defaultPriorityFee ?? 0n,
      explorerUrl: c.explorerUrl ?? null,
      enabled: c.enabled,
      maxPendingPerWallet: c.maxPendingPerWallet,
    };
  });

const network = z
  .object({
    chainId,
    kind: z.enum(['native', 'erc20'], {
      errorMap: (_issue, ctx) => ({ message: ctx.data === undefined ? 'is required' : 'must be native or erc20' }),
    }),
    contract: address.optional(),
    decimals: int(0, MAX_DECIMALS),
    withdrawalFee: decimalString,
    minAmount: decimalString,
    maxAmount: decimalString,
    gasLimit: int(21_000, 30_000_000).optional(),
    enabled: bool.default(true),
  })
  .strict();

const asset = z
  .object({
    symbol: quoted('a symbol').regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/, 'must be 1 to 16 letters, digits, ".", "_" or "-"'),
    ledgerDecimals: int(0, MAX_DECIMALS),
    enabled: bool.default(true),
    networks: z.array(network, { invalid_type_error: 'must be a list' }).default([]),
  })
  .strict()
  .transform((a, ctx) => ({
    symbol: a.symbol,
    ledgerDecimals: a.ledgerDecimals,
    enabled: a.enabled,
    networks: a.networks.map((n, i) => {
      const at = (field: string) => ['networks', i, field];
      if (n.kind === 'native' && n.contract) ctx.addIssue({ code: 'custom', path: at('contract'), message: 'a native network has no contract' });
      if (n.kind === 'erc20' && !n.contract) ctx.addIssue({ code: 'custom', path: at('contract'), message: 'is required for an erc20 network' });
      // The fee stays in the ledger; min and max bound what is paid on chain, so they fit both precisions.
      const payable = Math.min(n.decimals, a.ledgerDecimals);
      const toLedger = (v: bigint | undefined) => (v === undefined ? undefined : v * 10n ** BigInt(a.ledgerDecimals - payable));
      const withdrawalFee = units(n.withdrawalFee, a.ledgerDecimals, ctx, at('withdrawalFee'));
      const minAmount = toLedger(units(n.minAmount, payable, ctx, at('minAmount')));
      const maxAmount = toLedger(units(n.maxAmount, payable, ctx, at('maxAmount')));
      if (withdrawalFee !== undefined && withdrawalFee > MAX_LEDGER_UNITS) ctx.addIssue({ code: 'custom', path: at('withdrawalFee'), message: 'is larger than any amount Sluice stores' });
      if (maxAmount !== undefined && maxAmount > MAX_LEDGER_UNITS) ctx.addIssue({ code: 'custom', path: at('maxAmount'), message: 'is larger than any amount Sluice stores' });
      if (maxAmount === 0n) ctx.addIssue({ code: 'custom', path: at('maxAmount'), message: 'must be more than 0' });
      if (minAmount !== undefined && maxAmount !== undefined && minAmount > maxAmount) {
        ctx.addIssue({ code: 'custom', path: at('minAmount'), message: 'must not be more than maxAmount' });
      }
      return {
        chainId: n.chainId,
        kind: n.kind,
        contract: n.contract ?? null,
        decimals: n.decimals,
        withdrawalFee: withdrawalFee ?? 0n,
        minAmount: minAmount ?? 0n,
        maxAmount: maxAmount ?? 0n,
        gasLimit: n.gasLimit ?? (n.kind === 'native' ? 21_000 : 100_000),
        enabled: n.enabled,
      };
    }),
  }));

const hotWallet = z
  .object({
    chainId,
    address,
    keyRef: quoted('a key reference')
      .max(255, 'must be at most 255 characters')
      .regex(/^(kms|secretsmanager|keystore):\S+$/, 'must be kms:…, secretsmanager:… or keystore:…'),
    enabled: bool.default(true),
    /** Only for a wallet not yet in the database: an existing lane's next nonce is never changed by a file. */
    startNonce: int(0, Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();

const list = <T extends z.ZodTypeAny>(item: T) => z.array(item, { invalid_type_error: 'must be a list' }).default([]);

export const deploymentFileSchema = z
  .object(
    { chains: list(chain), assets: list(asset), hotWallets: list(hotWallet) },
    { invalid_type_error: 'the file must be a mapping with chains, assets and hotWallets' },
  )
  .strict()
  .superRefine((file, ctx) => {
    duplicates(ctx, file.chains, (c) => String(c.chainId), (i) => ['chains', i, 'chainId'], (k) => `chain ${k}`);
    duplicates(ctx, file.assets, (a) => a.symbol, (i) => ['assets', i, 'symbol'], (k) => `asset ${k}`);
    file.assets.forEach((a, ai) =>
      duplicates(ctx, a.networks, (n) => String(n.chainId), (i) => ['assets', ai, 'networks', i, 'chainId'], (k) => `network of ${a.symbol} on chain ${k}`),
    );
    duplicates(ctx, file.hotWallets, (w) => `${w.address}@${w.chainId}`, (i) => ['hotWallets', i, 'address'], (k) => `wallet ${k}`);
  });

export type DeploymentFile = z.output<typeof deploymentFileSchema>;
export type FileChain = DeploymentFile['chains'][number];
export type FileAsset = DeploymentFile['assets'][number];
export type FileNetwork = FileAsset['networks'][number];
export type FileWallet = DeploymentFile['hotWallets'][number];

function duplicates<T>(
  ctx: z.RefinementCtx,
  items: T[],
  key: (item: T) => string,
  path: (i: number) => (string | number)[],
  name: (key: string) => string,
): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const seen = first.get(k);
    if (seen === undefined) first.set(k, i);
    else ctx.addIssue({ code: 'custom', path: path(i), message: `${name(k)} is listed twice (first at ${formatPath(path(seen))})` });
  });
}

/** `chains[0].rpc[1].url`: the path an operator finds in the file. */
export function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function issueLines(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key (misspelt? see docs/config-file.md)`);
    }
    const where = issue.path.length ? formatPath(issue.path) : '(file)';
    return [`${where}: ${issue.message}`];
  });
}

/** Validates a parsed YAML/JSON document; every problem comes back at once, each naming its path. */
export function parseDeploymentConfig(raw: unknown, source = 'deployment file'): DeploymentFile {
  if (raw === null || raw === undefined) throw new DeploymentConfigError(`${source} is empty.`, []);
  const parsed = deploymentFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new DeploymentConfigError(`${source} is invalid; nothing was changed.`, issueLines(parsed.error));
  }
  return parsed.data;
}
