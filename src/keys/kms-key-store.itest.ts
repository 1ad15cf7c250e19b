import { DescribeKeyCommand, DisabledException, KMSClient } from '@aws-sdk/client-kms';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import {
  type Address,
  createPublicClient,
  hexToBigInt,
  http,
  numberToHex,
  parseTransaction,
  recoverTransactionAddress,
  type TransactionSerializableEIP1559,
} from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnvilHandle, startAnvil } from '../chain/anvil.js';
import { createKmsKeyStore, KmsKeyError, KmsUnavailableError } from './kms-key-store.js';
import { KmsSignatureError, parseDerSignature, SECP256K1_N } from './kms-signature.js';
import type { KeyStore } from './types.js';

// Runs against moto behind shared/tools/moto-kms-digest-server.py, which signs the digest as given
// (MessageType=DIGEST) like real KMS; plain moto hashes it again and nothing would recover.
const MOTO = process.env.SLUICE_TEST_MOTO_URL ?? 'http://127.0.0.1:5000';
const logger = pino({ level: 'silent' });
const kmsClient = (endpoint = MOTO, maxAttempts?: number) =>
  new KMSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, ...(maxAttempts ? { maxAttempts } : {}) });

/** Raw DER signatures KMS returned, to see that high-s answers really occur and get normalised. */
const kmsSignatures: Uint8Array[] = [];

/** Counts the commands a client sends, by name (SDK middleware, so nothing is faked). */
function countCommands(client: KMSClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName!, (counts.get(context.commandName!) ?? 0) + 1);
      const result = await next(args);
      const signature = (result.output as { Signature?: Uint8Array }).Signature;
      if (signature) kmsSignatures.push(signature);
      return result;
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}

const label = () => `itest-${randomUUID().slice(0, 8)}`;
const transfer = (nonce: number, over: Partial<TransactionSerializableEIP1559> = {}): TransactionSerializableEIP1559 => ({
  type: 'eip1559',
  chainId: 31337,
  nonce,
  to: '0x000000000000000000000000000000000000bEEF',
  value: 1_000n + BigInt(nonce),
  gas: 21_000n,
  maxFeePerGas: 30_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
  ...over,
});

let client: KMSClient;
let counts: Map<string, number>;
let store: KeyStore;
let anvil: AnvilHandle | undefined;

beforeAll(async () => {
  const res = await fetch(`${MOTO}/moto-api/`).catch((err: unknown) => {
    throw new Error(`moto_server is not reachable at ${MOTO} (start it with shared/tools/moto-kms-digest-server.py, or set SLUICE_TEST_MOTO_URL): ${String(err)}`);
  });
  if (!res.ok) throw new Error(`moto_server at ${MOTO} answered ${res.status}`);
  client = kmsClient();
  counts = countCommands(client);
  store = createKmsKeyStore({ client, logger });
});

afterAll(async () => {
  await anvil?.stop();
  client?.destroy();
});

describe('KMS key store (moto)', () => {
  it('creates a secp256k1 key with an alias; 20 signed txs all recover to its address with low s', async () => {
    const name = label();
    const { keyRef, address } = await store.createKey(name);
    expect(keyRef).toMatch(/^kms:[0-9a-f-]{36}$/);
    const described = await client.send(new DescribeKeyCommand({ KeyId: `alias/sluice-${name}` }));
    expect(`kms:${described.KeyMetadata?.KeyId}`).toBe(keyRef);
    expect(described.KeyMetadata?.KeySpec).toBe('ECC_SECG_P256K1');

    const signer = await store.signer(keyRef);
    expect(signer.address).toBe(address);
    expect((await store.signer(`kms:alias/sluice-${name}`)).address).toBe(address);

    const before = counts.get('GetPublicKeyCommand') ?? 0;
    const parities = new Set<string>();
    for (let nonce = 0; nonce < 20; nonce++) {
      const raw = await (await store.signer(keyRef)).signTransaction(transfer(nonce));
      const parsed = parseTransaction(raw);
      expect(parsed.nonce).toBe(nonce);
      expect(await recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` })).toBe(address);
      expect(hexToBigInt(parsed.s!) <= SECP256K1_N / 2n).toBe(true);
      parities.add(String(parsed.yParity));
    }
    // The address is derived once per ref; signing only calls Sign.
    expect(counts.get('GetPublicKeyCommand') ?? 0).toBe(before);
    // KMS's s is random in [1, n−1]: over 20 signatures both halves and both parities show up
    // (each missing with probability 2^-19), so normalisation and parity search were exercised.
    expect(parities.size).toBe(2);
    expect(kmsSignatures.filter((der) => parseDerSignature(der).s > SECP256K1_N / 2n).length).toBeGreaterThan(0);
  });

  it('a burst of 120 signatures keeps at most 50 KMS requests in flight, and every one recovers', async () => {
    const burstClient = kmsClient();
    let inFlight = 0;
    let most = 0;
    burstClient.middlewareStack.add(
      (next) => async (args) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize', name: 'countInFlight' },
    );
    try {
      const burstStore = createKmsKeyStore({ client: burstClient, logger });
      const { keyRef, address } = await burstStore.createKey(label());
      const signer = await burstStore.signer(keyRef);
      most = 0;
      const raws = await Promise.all(Array.from({ length: 120 }, (_, nonce) => signer.signTransaction(transfer(nonce))));
      expect(most).toBe(50);
      const senders = await Promise.all(raws.map((raw) => recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` })));
      expect(new Set(senders)).toEqual(new Set([address]));
      expect(raws.map((raw) => parseTransaction(raw).nonce)).toEqual(Array.from({ length: 120 }, (_, nonce) => nonce));
    } finally {
      burstClient.destroy();
    }
  });

  it('refuses a label whose alias is taken, before creating a key', async () => {
    const name = label();
    await store.createKey(name);
    const creates = counts.get('CreateKeyCommand') ?? 0;
    await expect(store.createKey(name)).rejects.toMatchObject({ name: 'KmsKeyError', code: 'kms_alias_exists' });
    expect(counts.get('CreateKeyCommand') ?? 0).toBe(creates);
  });

  it('a tx signed in KMS is accepted by a real node and pays the recipient', async () => {
    anvil = await startAnvil({ silent: true });
    const chain = createPublicClient({ transport: http(anvil.rpcUrl), cacheTime: 0 });
    const { keyRef, address } = await store.createKey(label());
    await chain.request({ method: 'anvil_setBalance', params: [address, numberToHex(10n ** 18n)] } as never);
    const recipient: Address = '0x00000000000000000000000000000000C0FFEE01';
    const block = await chain.getBlock();
    const raw = await (await store.signer(keyRef)).signTransaction(
      transfer(await chain.getTransactionCount({ address }), {
        to: recipient,
        value: 12_345n,
        maxFeePerGas: block.baseFeePerGas! * 2n + 1_000_000_000n,
      }),
    );
    const hash = await chain.sendRawTransaction({ serializedTransaction: raw });
    const receipt = await chain.waitForTransactionReceipt({ hash, timeout: 30_000 });
    expect(receipt.status).toBe('success');
    expect(receipt.from.toLowerCase()).toBe(address.toLowerCase());
    expect(await chain.getBalance({ address: recipient })).toBe(12_345n);
  });

  it('a disabled key and a missing key fail non-retryably with a clear message', async () => {
    // moto 5 keeps signing with a disabled key, so KMS's answer is injected as the SDK's own
    // DisabledException, raised where the deserializer would raise it.
    const { keyRef } = await store.createKey(label());
    const disabledClient = kmsClient();
    const signer = await createKmsKeyStore({ client: disabledClient, logger }).signer(keyRef);
    disabledClient.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName !== 'SignCommand') return next(args);
        throw new DisabledException({ message: `${keyRef} is disabled.`, $metadata: { httpStatusCode: 400 } });
      },
      { step: 'deserialize', name: 'disabled' },
    );
    const disabled = await signer.signTransaction(transfer(0)).catch((e: unknown) => e);
    expect(disabled).toBeInstanceOf(KmsKeyError);
    expect(disabled).toMatchObject({ code: 'kms_key_disabled', retryable: false });
    expect((disabled as Error).message).toMatch(/is disabled; enable it in KMS/);
    disabledClient.destroy();

    const missing = await store.signer(`kms:${randomUUID()}`).catch((e: unknown) => e);
    expect(missing).toMatchObject({ name: 'KmsKeyError', code: 'kms_key_not_found', retryable: false });
  });

  it('throttling and an unreachable endpoint are retryable', async () => {
    const throttled = kmsClient();
    throttled.middlewareStack.add(
      () => async () => {
        // What the SDK raises for KMS's request-rate limit once its own retries are spent.
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      },
      { step: 'initialize', name: 'throttle' },
    );
    const err = await createKmsKeyStore({ client: throttled, logger }).signer(`kms:${randomUUID()}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmsUnavailableError);
    expect(err).toMatchObject({ code: 'kms_unavailable', retryable: true });

    const down = kmsClient('http://127.0.0.1:1', 1);
    const unreachable = await createKmsKeyStore({ client: down, logger }).signer(`kms:${randomUUID()}`).catch((e: unknown) => e);
    expect(unreachable).toMatchObject({ name: 'KmsUnavailableError', retryable: true });
    throttled.destroy();
    down.destroy();
  });

  it('never returns a signature that does not recover to the wallet', async () => {
    const wallet = await store.createKey(label());
    const other = await store.createKey(label());
    // KMS answering with another key's signature (an alias re-pointed, a misrouted request).
    const misrouted = kmsClient();
    misrouted.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'SignCommand') (args.input as { KeyId: string }).KeyId = other.keyRef.slice('kms:'.length);
        return next(args);
      },
      { step: 'initialize', name: 'misroute' },
    );
    const signer = await createKmsKeyStore({ client: misrouted, logger }).signer(wallet.keyRef);
    const err = await signer.signTransaction(transfer(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmsSignatureError);
    expect(err).toMatchObject({ code: 'kms_signature_unrecoverable', retryable: false });
    misrouted.destroy();
  });
});
