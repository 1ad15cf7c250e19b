import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { recoverTransactionAddress, type TransactionSerializableEIP1559 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/load.js';
import { decryptKey, encryptKey, type KeystoreV3 } from './keystore-file.js';
import { KeyStoreRefusedError, type KeyStores, openKeyStores } from './open-key-stores.js';
import { createSecretsManagerKeyStore, SecretsManagerKeyError, SecretsManagerUnavailableError } from './secrets-manager-key-store.js';

const MOTO = process.env.SLUICE_TEST_MOTO_URL ?? 'http://127.0.0.1:5000';
const logger = pino({ level: 'silent' });
const cheap = { n: 1024, r: 8, p: 1 };
const PASSWORD = 'correct horse battery staple';

const tx: TransactionSerializableEIP1559 = {
  type: 'eip1559',
  chainId: 31337,
  nonce: 3,
  to: '0x000000000000000000000000000000000000dEaD',
  value: 7n,
  gas: 21_000n,
  maxFeePerGas: 2_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
};
const recover = (raw: string) => recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` });
const label = () => `itest-${randomUUID().slice(0, 8)}`;

let client: SecretsManagerClient;
let reads = 0;
/** While set, every call fails the way a network outage does (before any request is sent). */
let outage = false;
const opened: KeyStores[] = [];

beforeAll(async () => {
  const res = await fetch(`${MOTO}/moto-api/`).catch((err: unknown) => {
    throw new Error(`moto_server is not reachable at ${MOTO} (start it with shared/tools/moto-kms-digest-server.py, or set SLUICE_TEST_MOTO_URL): ${String(err)}`);
  });
  if (!res.ok) throw new Error(`moto_server at ${MOTO} answered ${res.status}`);
  client = new SecretsManagerClient({ region: 'us-east-1', endpoint: MOTO, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (outage) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED', $metadata: {} });
      if (context.commandName === 'GetSecretValueCommand') reads++;
      return next(args);
    },
    { step: 'initialize', name: 'countAndFail' },
  );
});

afterAll(() => {
  client?.destroy();
  opened.forEach((keys) => keys.close());
});

function store(options: { password?: string; cacheTtlMs?: number; now?: () => number } = {}) {
  return createSecretsManagerKeyStore({ client, password: PASSWORD, cacheTtlMs: 60_000, logger, cost: cheap, ...options });
}

const secretOf = async (keyRef: string) =>
  (await client.send(new GetSecretValueCommand({ SecretId: keyRef.slice('secretsmanager:'.length) }))).SecretString!;

async function failure(promise: Promise<unknown>): Promise<SecretsManagerKeyError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as SecretsManagerKeyError;
}

describe('Secrets Manager key store (moto)', () => {
  it('stores only an encrypted v3 document and signs txs that recover to the wallet', async () => {
    const name = label();
    const { keyRef, address } = await store().createKey(name);
    expect(keyRef).toBe(`secretsmanager:sluice/hot-wallet/${name}-${address}`);
    const secret = await secretOf(keyRef);
    const v3 = JSON.parse(secret) as KeystoreV3;
    expect(v3.version).toBe(3);
    const privateKey = await decryptKey(v3, PASSWORD);
    expect(privateKeyToAccount(privateKey).address).toBe(address);
    expect(secret.toLowerCase()).not.toContain(privateKey.slice(2).toLowerCase());

    const signer = await store().signer(keyRef);
    expect(signer.address).toBe(address);
    expect(await recover(await signer.signTransaction(tx))).toBe(address);
  });

  it('keeps a key for the TTL, reads it again after, and one read serves concurrent callers', async () => {
    const { keyRef, address } = await store().createKey(label());
    let t = 1_000_000;
    const cached = store({ cacheTtlMs: 10_000, now: () => t });
    const start = reads;
    await Promise.all(Array.from({ length: 5 }, () => cached.signer(keyRef)));
    expect(reads - start).toBe(1);
    t += 9_999;
    await cached.signer(keyRef);
    expect(reads - start).toBe(1);
    t += 2;
    const again = await Promise.all(Array.from({ length: 5 }, () => cached.signer(keyRef)));
    expect(reads - start).toBe(2);
    expect(again.every((s) => s.address === address)).toBe(true);

    // Rotation: the secret now holds another key; the next read after the TTL uses it.
    const rotated = generatePrivateKey();
    await client.send(new PutSecretValueCommand({ SecretId: keyRef.slice('secretsmanager:'.length), SecretString: JSON.stringify(await encryptKey(rotated, PASSWORD, cheap)) }));
    expect((await cached.signer(keyRef)).address).toBe(address);
    t += 10_001;
    const next = await cached.signer(keyRef);
    expect(next.address).toBe(privateKeyToAccount(rotated).address);
    expect(await recover(await next.signTransaction(tx))).toBe(next.address);
  });

  it('after the TTL an outage is a retryable failure, never the stale key; it recovers when the outage ends', async () => {
    const { keyRef, address } = await store().createKey(label());
    let t = 0;
    const cached = store({ cacheTtlMs: 1_000, now: () => t });
    await cached.signer(keyRef);
    outage = true;
    try {
      expect((await cached.signer(keyRef)).address).toBe(address); // within the TTL: no call needed
      t += 1_001;
      const err = await failure(cached.signer(keyRef));
      expect(err).toBeInstanceOf(SecretsManagerUnavailableError);
      expect(err).toMatchObject({ code: 'secrets_manager_unavailable', retryable: true });
      await failure(cached.signer(keyRef)); // still no stale fallback on the next try
    } finally {
      outage = false;
    }
    expect((await cached.signer(keyRef)).address).toBe(address);
  });

  it('a wrong password fails clearly and is not retryable', async () => {
    const { keyRef } = await store().createKey(label());
    const err = await failure(store({ password: 'not the password' }).signer(keyRef));
    expect(err).toBeInstanceOf(SecretsManagerKeyError);
    expect(err).toMatchObject({ code: 'secret_bad_password', retryable: false });
    expect(err.message).toMatch(/SLUICE_KEYSTORE_PASSWORD does not match/);
  });

  it('refuses secrets that are not an encrypted v3 document for the address they name, without quoting them', async () => {
    const { keyRef } = await store().createKey(label());
    const id = keyRef.slice('secretsmanager:'.length);
    const raw = generatePrivateKey();
    await client.send(new PutSecretValueCommand({ SecretId: id, SecretString: raw }));
    const plain = await failure(store().signer(keyRef));
    expect(plain).toMatchObject({ code: 'secret_malformed', retryable: false });
    expect(JSON.stringify({ m: plain.message, d: plain.details, c: String(plain.cause) })).not.toContain(raw.slice(4, 40));

    const lying = { ...(await encryptKey(generatePrivateKey(), PASSWORD, cheap)), address: privateKeyToAccount(raw).address.slice(2).toLowerCase() };
    await client.send(new PutSecretValueCommand({ SecretId: id, SecretString: JSON.stringify(lying) }));
    expect(await failure(store().signer(keyRef))).toMatchObject({ code: 'secret_address_mismatch', retryable: false });

    expect(await failure(store().signer(`secretsmanager:sluice/hot-wallet/${randomUUID()}`))).toMatchObject({
      code: 'secret_not_found',
      retryable: false,
    });
  });
});

describe('openKeyStores', () => {
  const base = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: MOTO, SLUICE_KEYSTORE_PASSWORD: PASSWORD };
  const open = async (env: Record<string, string>, stores: Parameters<typeof openKeyStores>[1]['stores']) => {
    const keys = await openKeyStores(loadConfig(env), { logger, stores });
    opened.push(keys);
    return keys;
  };

  it('production refuses the keystore at start and keystore refs at use; KMS and Secrets Manager work through it', async () => {
    const production = { ...base, NODE_ENV: 'production' };
    await expect(open(production, ['keystore'])).rejects.toThrow(KeyStoreRefusedError);
    await expect(open(production, ['kms', 'keystore'])).rejects.toThrow(/not allowed in production.*use kms or secrets-manager/s);

    const keys = await open(production, ['kms', 'secrets-manager']);
    for (const ref of ['keystore:hot--0xAbc.json', 'hot-0--0xAbc.json']) {
      await expect(keys.signer(ref)).rejects.toMatchObject({ name: 'KeyStoreRefusedError', code: 'raw_keys_refused', retryable: false });
    }
    await expect(keys.createKey('x', 'keystore')).rejects.toMatchObject({ code: 'raw_keys_refused' });
    await expect(keys.createKey('x')).rejects.toMatchObject({ code: 'key_store_ambiguous' });

    for (const kind of ['kms', 'secrets-manager'] as const) {
      const { keyRef, address } = await keys.createKey(label(), kind);
      expect(keyRef.startsWith(kind === 'kms' ? 'kms:' : 'secretsmanager:')).toBe(true);
      const signer = await keys.signer(keyRef);
      expect(await recover(await signer.signTransaction(tx))).toBe(address);
    }
  });

  it('dev mode opens the keystore under <dataDir>/keystore and signs with keystore: and bare refs', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-keys-'));
    try {
      const keys = await open({ SLUICE_DATA_DIR: dataDir, SLUICE_KEYSTORE_PASSWORD: PASSWORD }, ['keystore']);
      const { keyRef, address } = await keys.createKey('hot');
      expect(fs.readdirSync(path.join(dataDir, 'keystore'))).toHaveLength(1);
      expect(keyRef).toMatch(/^keystore:/);
      for (const ref of [keyRef, keyRef.slice('keystore:'.length)]) {
        expect(await recover(await (await keys.signer(ref)).signTransaction(tx))).toBe(address);
      }
      await expect(keys.signer('kms:alias/sluice-hot')).rejects.toMatchObject({ code: 'key_store_not_open' });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('names the missing variable', async () => {
    const missing = async (env: Record<string, string>, stores: Parameters<typeof openKeyStores>[1]['stores']) => {
      try {
        await open(env, stores);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(await missing({ AWS_REGION: 'us-east-1' }, ['secrets-manager'])).toMatch(/SLUICE_KEYSTORE_PASSWORD/);
    expect(await missing({ SLUICE_KEYSTORE_PASSWORD: 'x' }, ['secrets-manager'])).toMatch(/AWS_REGION/);
    expect(await missing({}, ['kms'])).toMatch(/AWS_REGION/);
    expect(await missing({}, ['keystore'])).toMatch(/SLUICE_KEYSTORE_PASSWORD/);
  });
});
