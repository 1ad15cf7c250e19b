import fc from 'fast-check';
import {
  type Address,
  bytesToHex,
  decodeFunctionData,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  type Hex,
  parseTransaction,
  serializeTransaction,
  toFunctionSelector,
  type TransactionSerializableEIP1559,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import type { AssetNetwork } from '../assets/registry.js';
import { SluiceError } from '../errors/base.js';
import { UnencodableTxError } from '../keys/eip1559-envelope.js';
import { buildTransfer, type CancelIntent, TRANSFER_SELECTOR, transferCalldata, type TransferIntent, TxVerificationError, verifiedCancel, verifiedTransfer, verifySigner, verifyTransfer } from './build-tx.js';

const recipient = getAddress('0x8ba1f109551bd432803012645ac136ddd64dba72');
const otherRecipient = getAddress('0x1111111111111111111111111111111111111111');
const tokenContract = getAddress('0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48');
const otherContract = getAddress('0xdac17f958d2ee523a2206206994597c13d831ec7');

const ethNetwork: AssetNetwork = {
  asset: 'ETH',
  ledgerDecimals: 18,
  chainId: 31337,
  chainName: 'devnet',
  kind: 'native',
  contract: null,
  decimals: 18,
  withdrawalFee: 1_000_000_000_000_000n,
  minAmount: 1n,
  maxAmount: 10n ** 24n,
  gasLimit: 21_000,
  enabled: true,
};

const usdcNetwork: AssetNetwork = {
  asset: 'USDC',
  ledgerDecimals: 6,
  chainId: 31337,
  chainName: 'devnet',
  kind: 'erc20',
  contract: tokenContract,
  decimals: 6,
  withdrawalFee: 1_000_000n,
  minAmount: 1n,
  maxAmount: 10n ** 15n,
  gasLimit: 65_000,
  enabled: true,
};

const nativeIntent: TransferIntent = {
  chainId: 31337,
  network: ethNetwork,
  to: recipient,
  chainAmount: 1_500_000_000_000_000_000n,
  nonce: 7,
  maxFeePerGas: 30_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
};

const tokenIntent: TransferIntent = {
  chainId: 31337,
  network: usdcNetwork,
  to: recipient,
  chainAmount: 2_500_000n,
  nonce: 3,
  maxFeePerGas: 40_000_000_000n,
  maxPriorityFeePerGas: 2_000_000_000n,
};

function transferData(to: Address, amount: bigint): Hex {
  return encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, amount] });
}

/** Serializes a modified copy of the built tx and expects verification to reject it for `what`. */
function expectMismatch(intent: TransferIntent, change: Partial<TransactionSerializableEIP1559>, what: string) {
  const tampered = serializeTransaction({ ...buildTransfer(intent), ...change } as TransactionSerializableEIP1559);
  let caught: unknown;
  try {
    verifyTransfer(tampered, intent);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TxVerificationError);
  expect(caught).toBeInstanceOf(SluiceError);
  const err = caught as TxVerificationError;
  expect(err.code).toBe('tx_mismatch');
  expect(err.name).toBe('TxVerificationError');
  expect(err.shortMessage).toBe(`Built transaction does not match the withdrawal: ${what}.`);
}

describe('buildTransfer', () => {
  it('builds a native EIP-1559 transfer of the chain amount to the recipient', () => {
    const tx = buildTransfer(nativeIntent);
    expect(tx.data).toBeUndefined();
    const parsed = parseTransaction(serializeTransaction(tx));
    expect(parsed.type).toBe('eip1559');
    expect(parsed.chainId).toBe(31337);
    expect(parsed.nonce).toBe(7);
    expect(parsed.to).toBe(recipient.toLowerCase());
    expect(parsed.value).toBe(1_500_000_000_000_000_000n);
    expect(parsed.gas).toBe(21_000n);
    expect(parsed.maxFeePerGas).toBe(30_000_000_000n);
    expect(parsed.maxPriorityFeePerGas).toBe(1_000_000_000n);
    expect(parsed.data).toBeUndefined();
  });

  it('builds an ERC-20 transfer(to, amount) call to the token contract with no native value', () => {
    const tx = buildTransfer(tokenIntent);
    const parsed = parseTransaction(serializeTransaction(tx));
    expect(parsed.type).toBe('eip1559');
    expect(parsed.chainId).toBe(31337);
    expect(parsed.nonce).toBe(3);
    expect(getAddress(parsed.to!)).toBe(tokenContract);
    expect(parsed.value ?? 0n).toBe(0n);
    expect(parsed.gas).toBe(65_000n);
    expect(parsed.maxFeePerGas).toBe(40_000_000_000n);
    expect(parsed.maxPriorityFeePerGas).toBe(2_000_000_000n);
    const call = decodeFunctionData({ abi: erc20Abi, data: parsed.data! });
    expect(call.functionName).toBe('transfer');
    expect(call.args).toEqual([recipient, 2_500_000n]);
  });

  it('keeps nonce 0 (a fresh wallet) through serialization', () => {
    const intent = { ...nativeIntent, nonce: 0 };
    expect(parseTransaction(serializeTransaction(buildTransfer(intent))).nonce).toBe(0);
    expect(() => verifyTransfer(serializeTransaction(buildTransfer(intent)), intent)).not.toThrow();
  });
});

describe('verifyTransfer', () => {
  it('accepts a correctly built native transfer', () => {
    expect(() => verifyTransfer(serializeTransaction(buildTransfer(nativeIntent)), nativeIntent)).not.toThrow();
  });

  it('accepts a correctly built ERC-20 transfer', () => {
    expect(() => verifyTransfer(serializeTransaction(buildTransfer(tokenIntent)), tokenIntent)).not.toThrow();
  });

  it('compares the recipient case-insensitively', () => {
    const lower = { ...nativeIntent, to: recipient.toLowerCase() as Address };
    expect(() => verifyTransfer(serializeTransaction(buildTransfer(nativeIntent)), lower)).not.toThrow();
    const lowerToken = { ...tokenIntent, to: recipient.toLowerCase() as Address };
    expect(() => verifyTransfer(serializeTransaction(buildTransfer(tokenIntent)), lowerToken)).not.toThrow();
  });

  it('accepts a fee at or below the cap', () => {
    expect(() =>
      verifyTransfer(serializeTransaction({ ...buildTransfer(nativeIntent), maxFeePerGas: nativeIntent.maxFeePerGas - 1n }), nativeIntent),
    ).not.toThrow();
  });

  describe.each([
    ['native', nativeIntent],
    ['erc20', tokenIntent],
  ] as const)('%s: rejects', (_kind, intent) => {
    it('a wrong chain id', () => expectMismatch(intent, { chainId: 1 }, 'chain id'));
    it('a wrong nonce', () => expectMismatch(intent, { nonce: intent.nonce + 1 }, 'nonce'));
    it('a fee above the cap', () => expectMismatch(intent, { maxFeePerGas: intent.maxFeePerGas + 1n }, 'fee above cap'));
    it('a legacy (non-EIP-1559) transaction', () => {
      const built = buildTransfer(intent);
      const legacy = serializeTransaction({
        type: 'legacy',
        chainId: built.chainId,
        nonce: built.nonce,
        gas: built.gas,
        gasPrice: 1n,
        to: built.to,
        value: built.value,
        ...(built.data ? { data: built.data } : {}),
      });
      let caught: unknown;
      try {
        verifyTransfer(legacy, intent);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TxVerificationError);
      expect((caught as TxVerificationError).shortMessage).toMatch(/: type\.$/);
    });
  });

  describe('native', () => {
    it('rejects a wrong recipient', () => expectMismatch(nativeIntent, { to: otherRecipient }, 'recipient'));
    it('rejects a wrong amount', () => expectMismatch(nativeIntent, { value: nativeIntent.chainAmount + 1n }, 'amount'));
    it('rejects a contract creation (no recipient)', () => expectMismatch(nativeIntent, { to: null }, 'recipient'));
    it('rejects calldata', () => expectMismatch(nativeIntent, { data: '0x1234' }, 'unexpected calldata'));
    it('rejects a token transfer built against a native intent', () =>
      expectMismatch(nativeIntent, { to: tokenContract, value: 0n, data: transferData(recipient, nativeIntent.chainAmount) }, 'recipient'));
  });

  describe('erc20', () => {
    it('rejects a wrong token contract', () => expectMismatch(tokenIntent, { to: otherContract }, 'token contract'));
    it('rejects a direct send to the recipient instead of the contract', () => expectMismatch(tokenIntent, { to: recipient }, 'token contract'));
    it('rejects native value on a token transfer', () => expectMismatch(tokenIntent, { value: 1n }, 'native value on a token transfer'));
    it('rejects a wrong recipient in the calldata', () =>
      expectMismatch(tokenIntent, { data: transferData(otherRecipient, tokenIntent.chainAmount) }, 'recipient'));
    it('rejects a wrong amount in the calldata', () =>
      expectMismatch(tokenIntent, { data: transferData(recipient, tokenIntent.chainAmount - 1n) }, 'amount'));
    it('rejects a different ERC-20 function (approve)', () =>
      expectMismatch(
        tokenIntent,
        { data: encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [recipient, tokenIntent.chainAmount] }) },
        'token function',
      ));
    it('rejects trailing bytes after transfer(to, amount)', () =>
      expectMismatch(tokenIntent, { data: `${transferData(recipient, tokenIntent.chainAmount)}${'ff'.repeat(32)}` }, 'token calldata length'));
    it('rejects calldata of the right length with an unknown selector', () =>
      expectMismatch(tokenIntent, { data: `0xdeadbeef${transferData(recipient, tokenIntent.chainAmount).slice(10)}` }, 'token function'));
    it('rejects a recipient word whose high bytes are not zero', () =>
      expectMismatch(tokenIntent, { data: `0xa9059cbb${'01'}${transferData(recipient, tokenIntent.chainAmount).slice(12)}` }, 'recipient'));
    it('rejects a gas limit other than the network\'s', () => expectMismatch(tokenIntent, { gas: 1_000_000n }, 'gas limit'));
    it('rejects a tip above the chosen tip', () =>
      expectMismatch(tokenIntent, { maxPriorityFeePerGas: tokenIntent.maxPriorityFeePerGas + 1n }, 'tip above the chosen tip'));
    it('rejects an intent whose network has no contract', () => {
      const noContract = { ...tokenIntent, network: { ...usdcNetwork, contract: null } };
      let caught: unknown;
      try {
        verifyTransfer(serializeTransaction(buildTransfer(tokenIntent)), noContract);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TxVerificationError);
      expect((caught as TxVerificationError).shortMessage).toMatch(/token contract\.$/);
    });
  });
});

describe('transferCalldata', () => {
  it('is what the ABI coder encodes for transfer(to, amount), for any recipient and uint256 amount', () => {
    expect(TRANSFER_SELECTOR).toBe(toFunctionSelector('transfer(address,uint256)'));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), (bytes, amount) => {
        const to = getAddress(bytesToHex(bytes));
        expect(transferCalldata(to, amount)).toBe(transferData(to, amount));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an amount outside uint256 before anything is encoded', () => {
    expect(() => transferCalldata(recipient, -1n)).toThrow(UnencodableTxError);
    expect(() => transferCalldata(recipient, 1n << 256n)).toThrow(UnencodableTxError);
  });
});

describe('verifiedTransfer', () => {
  it('returns the built tx with the exact bytes it checked', () => {
    const { tx, unsigned } = verifiedTransfer(tokenIntent);
    expect(tx).toEqual(buildTransfer(tokenIntent));
    expect(unsigned).toBe(serializeTransaction(buildTransfer(tokenIntent)));
  });

  it('refuses what a faulty builder made, before anything is signed', () => {
    const faulty = (intent: TransferIntent) => ({ ...buildTransfer(intent), to: otherRecipient });
    expect(() => verifiedTransfer(nativeIntent, faulty)).toThrow(TxVerificationError);
    expect(() => verifiedTransfer(nativeIntent, faulty)).toThrow(/recipient/);
  });
});

describe('verifiedCancel', () => {
  const wallet = getAddress('0x2222222222222222222222222222222222222222');
  const intent: CancelIntent = { chainId: 31337, wallet, nonce: 9, maxFeePerGas: 50_000_000_000n, maxPriorityFeePerGas: 3_000_000_000n };

  it('builds a 0-value self-transfer at the nonce with no calldata', () => {
    const { tx, unsigned } = verifiedCancel(intent);
    const parsed = parseTransaction(unsigned);
    expect(parsed).toMatchObject({ type: 'eip1559', chainId: 31337, nonce: 9, to: wallet.toLowerCase(), gas: tx.gas, maxFeePerGas: intent.maxFeePerGas });
    expect(parsed.value ?? 0n).toBe(0n);
    expect(parsed.data).toBeUndefined();
  });
});

describe('verifySigner (invariant 9)', () => {
  const key = generatePrivateKey();
  const wallet = privateKeyToAccount(key).address;

  it("accepts a signature of the wallet's own key", async () => {
    const raw = await privateKeyToAccount(key).signTransaction(buildTransfer(nativeIntent));
    await expect(verifySigner(raw, wallet)).resolves.toBeUndefined();
  });

  it('refuses a signature of any other key as wrong_signing_key', async () => {
    const raw = await privateKeyToAccount(generatePrivateKey()).signTransaction(buildTransfer(nativeIntent));
    await expect(verifySigner(raw, wallet)).rejects.toMatchObject({ name: 'TxVerificationError', code: 'wrong_signing_key' });
  });
});
