import { CreateSecretCommand, GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Address, getAddress, type Hex, hexToBytes } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { awsErrorName, isTransientAwsError } from '../aws/errors.js';
import { RetryableError, SluiceError } from '../errors/base.js';
import type { Logger } from '../observability/logger.js';
import { formatKeyRef, keyIdFor, sanitizeLabel } from './key-refs.js';
import { decryptKey, encryptKey, KeystoreError, type KeystoreV3, type ScryptCost } from './keystore-file.js';
import { signTransactionWithKey } from './secp256k1.js';
import type { KeyStore, TxSigner } from './types.js';

/**
 * Hot-wallet keys in AWS Secrets Manager. Each secret holds a Web3 Secret Storage v3 document
 * encrypted with SLUICE_KEYSTORE_PASSWORD, so whoever can read the secret (a console user, a leaked
 * IAM role) still needs the password held by the signer alone. A decrypted key is kept in memory
 * for `cacheTtlMs`, then read again so a rotated secret takes effect; when that read fails the
 * signer fails with a retryable error instead of signing with a key it can no longer confirm.
 */
export class SecretsManagerKeyError extends SluiceError {
  override name = 'SecretsManagerKeyError';
}

export class SecretsManagerUnavailableError extends RetryableError {
  override name = 'SecretsManagerUnavailableError';
}

export type SecretsManagerKeyStoreOptions = {
  client: SecretsManagerClient;
  password: string;
  cacheTtlMs: number;
  logger: Logger;
  /** Clock for the cache (tests); Date.now by default. */
  now?: () => number;
  /** scrypt cost for new secrets (tests lower it); decryption always uses the secret's own. */
  cost?: ScryptCost;
};

export const SECRET_PREFIX = 'sluice/hot-wallet/';

export function createSecretsManagerKeyStore(options: SecretsManagerKeyStoreOptions): KeyStore {
  const { client, password, cacheTtlMs } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'secrets-manager-key-store' });
  const cache = new Map<string, { signer: TxSigner; expiresAt: number }>();
  // Concurrent signers for one wallet share a single GetSecretValue + scrypt run.
  const loading = new Map<string, Promise<TxSigner>>();

  async function load(secretId: string): Promise<TxSigner> {
    let secret: string | undefined;
    try {
      secret = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
    } catch (err) {
      throw secretsError(err, 'GetSecretValue', secretId);
    }
    const v3 = parseV3(secret, secretId);
    let privateKey: Hex;
    try {
      privateKey = await decryptKey(v3, password);
    } catch (err) {
      const wrongPassword = err instanceof KeystoreError && err.code === 'keystore_bad_password';
      throw new SecretsManagerKeyError(
        wrongPassword
          ? `Cannot decrypt secret ${secretId}: SLUICE_KEYSTORE_PASSWORD does not match (MAC mismatch).`
          : `Cannot decrypt secret ${secretId}.`,
        { code: wrongPassword ? 'secret_bad_password' : 'secret_undecryptable', cause: err },
      );
    }
    const account = accountOf(privateKey, secretId);
    // The v3 document names its address; a key that does not match it is not the wallet's key.
    if (account.address.toLowerCase() !== `0x${v3.address.toLowerCase()}`) {
      throw new SecretsManagerKeyError(`Secret ${secretId} decrypts to a key whose address is not the one it names.`, {
        code: 'secret_address_mismatch',
      });
    }
    // libsecp256k1 when the addon is present, as for keystore files: viem's JS signer is ~8x slower.
    const keyBytes = hexToBytes(privateKey);
    return { address: account.address, signTransaction: (tx, unsigned) => signTransactionWithKey(tx, keyBytes, unsigned) };
  }

  return {
    kind: 'secrets-manager',
    async createKey(label: string) {
      const privateKey = generatePrivateKey();
      const v3 = await encryptKey(privateKey, password, options.cost);
      const address = getAddress(`0x${v3.address}`);
      const name = `${SECRET_PREFIX}${sanitizeLabel(label)}-${address}`;
      try {
        await client.send(
          new CreateSecretCommand({
            Name: name,
            SecretString: JSON.stringify(v3),
            Description: `Sluice hot wallet ${address} (v3 keystore JSON, encrypted with SLUICE_KEYSTORE_PASSWORD)`,
            Tags: [{ Key: 'sluice:wallet', Value: address }],
          }),
        );
      } catch (err) {
        throw secretsError(err, 'CreateSecret', name);
      }
      const keyRef = formatKeyRef({ store: 'secrets-manager', id: name });
      logger.info({ keyRef, wallet: address }, 'created Secrets Manager hot-wallet key');
      return { keyRef, address };
    },
    signer(keyRef: string): Promise<TxSigner> {
      const secretId = keyIdFor('secrets-manager', keyRef);
      const entry = cache.get(secretId);
      if (entry && now() < entry.expiresAt) return Promise.resolve(entry.signer);
      // Expired: forget the key now, so a failed re-read can never fall back to it.
      cache.delete(secretId);
      const pending = loading.get(secretId);
      if (pending) return pending;
      const fresh = load(secretId)
        .then((signer) => {
          cache.set(secretId, { signer, expiresAt: now() + cacheTtlMs });
          logger.debug({ keyRef, wallet: signer.address }, 'hot-wallet key read from Secrets Manager');
          return signer;
        })
        .finally(() => loading.delete(secretId));
      loading.set(secretId, fresh);
      return fresh;
    },
  };
}

/**
 * The secret must be a v3 document. JSON.parse's own message quotes the input, which for a
 * misconfigured secret could be a raw key, so its error is dropped rather than chained.
 */
function parseV3(secret: string | undefined, secretId: string): KeystoreV3 {
  const bad = (why: string) =>
    new SecretsManagerKeyError(`Secret ${secretId} is not an encrypted v3 keystore document (${why}).`, { code: 'secret_malformed' });
  if (!secret) throw bad('no SecretString');
  let doc: unknown;
  try {
    doc = JSON.parse(secret);
  } catch {
    throw bad('not JSON');
  }
  const v3 = doc as Partial<KeystoreV3> | null;
  const c = v3?.crypto;
  const hex = (v: unknown) => typeof v === 'string' && /^[0-9a-fA-F]*$/.test(v);
  if (
    v3?.version !== 3 ||
    typeof v3.address !== 'string' ||
    !/^(0x)?[0-9a-fA-F]{40}$/.test(v3.address) ||
    !c ||
    !hex(c.ciphertext) ||
    !hex(c.mac) ||
    !hex(c.cipherparams?.iv) ||
    !hex(c.kdfparams?.salt) ||
    ![c.kdfparams?.n, c.kdfparams?.r, c.kdfparams?.p, c.kdfparams?.dklen].every((n) => Number.isSafeInteger(n) && (n as number) > 0)
  ) {
    throw bad('missing or invalid fields');
  }
  return { ...v3, address: v3.address.replace(/^0x/, '') } as KeystoreV3;
}

/** Errors from viem/noble about a bad key may quote it; none of that text is passed on. */
function accountOf(privateKey: Hex, secretId: string) {
  try {
    return privateKeyToAccount(privateKey);
  } catch {
    throw new SecretsManagerKeyError(`Secret ${secretId} decrypts to an invalid private key.`, { code: 'secret_invalid_key' });
  }
}

const SECRET_PROBLEMS: Record<string, { code: string; why: string }> = {
  ResourceNotFoundException: { code: 'secret_not_found', why: 'does not exist in this account and region' },
  ResourceExistsException: { code: 'secret_exists', why: 'already exists' },
  AccessDeniedException: { code: 'secret_access_denied', why: 'is not readable by this role (secretsmanager:GetSecretValue)' },
  InvalidRequestException: { code: 'secret_invalid_state', why: 'cannot be used now (scheduled for deletion?)' },
  DecryptionFailure: { code: 'secret_kms_decryption_failed', why: 'cannot be decrypted by Secrets Manager (its KMS key?)' },
};

function secretsError(err: unknown, operation: string, secretId: string): SluiceError {
  if (isTransientAwsError(err)) {
    return new SecretsManagerUnavailableError(`Secrets Manager ${operation} for ${secretId} failed; will retry.`, {
      cause: err,
      code: 'secrets_manager_unavailable',
    });
  }
  const problem = SECRET_PROBLEMS[awsErrorName(err) ?? ''];
  if (problem) return new SecretsManagerKeyError(`Secret ${secretId} ${problem.why}.`, { cause: err, code: problem.code });
  return new SecretsManagerKeyError(`Secrets Manager ${operation} for ${secretId} failed.`, { cause: err, code: 'secrets_manager_error' });
}
