import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  GetPublicKeyCommand,
  type KMSClient,
  SignCommand,
} from '@aws-sdk/client-kms';
import { type Address, bytesToHex, type Hex, hexToBytes, keccak256, serializeTransaction, type TransactionSerializableEIP1559 } from 'viem';
import { awsErrorName, isTransientAwsError } from '../aws/errors.js';
import { RetryableError, SluiceError } from '../errors/base.js';
import type { Logger } from '../observability/logger.js';
import { createConcurrencyLimit } from '../util/concurrency-limit.js';
import { joinSignedEip1559 } from './eip1559-envelope.js';
import { formatKeyRef, keyIdFor, sanitizeLabel } from './key-refs.js';
import { addressFromSpki, toRecoverableSignature } from './kms-signature.js';
import type { KeyStore, TxSigner } from './types.js';

/**
 * Hot-wallet keys inside AWS KMS (ECC_SECG_P256K1, SIGN_VERIFY): the private key never leaves the
 * HSM; Sluice sends the 32-byte tx digest and gets a DER signature back. Every signature is checked
 * by recovering the wallet address before it is returned (kms-signature.ts).
 */
export class KmsKeyError extends SluiceError {
  override name = 'KmsKeyError';
}

/** KMS or the network failed in a way a later try may not: throttling, 5xx, timeouts, resets. */
export class KmsUnavailableError extends RetryableError {
  override name = 'KmsUnavailableError';
}

export type KmsKeyStoreOptions = { client: KMSClient; logger: Logger };

/**
 * KMS requests in flight at once, per key store: the SDK's HTTP handler keeps 50 sockets per host.
 * A signer hands over a whole batch of payouts at once (up to its concurrency, 1,024): past the
 * sockets, each request waited inside the SDK with its serialized, SigV4-signed request and
 * middleware state already built, and its 10 s request timeout already running.
 */
const KMS_REQUESTS_AT_ONCE = 50;

export function createKmsKeyStore(options: KmsKeyStoreOptions): KeyStore {
  const { client } = options;
  const logger = options.logger.child({ component: 'kms-key-store' });
  // One signer per ref for the process lifetime: its address comes from GetPublicKey once. If an
  // alias is later pointed at another key, recovery stops matching and signing fails closed.
  const signers = new Map<string, Promise<TxSigner>>();
  const requests = createConcurrencyLimit(KMS_REQUESTS_AT_ONCE);

  async function call<T>(what: string, keyId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await requests(fn);
    } catch (err) {
      throw kmsError(err, what, keyId);
    }
  }

  async function addressOf(keyId: string): Promise<Address> {
    const out = await call('GetPublicKey', keyId, () => client.send(new GetPublicKeyCommand({ KeyId: keyId })));
    // Some KMS emulators only fill the older CustomerMasterKeySpec; the curve is checked again
    // from the DER itself (its OID), so a missing spec field cannot let another curve through.
    const spec = out.KeySpec ?? out.CustomerMasterKeySpec;
    if (spec !== 'ECC_SECG_P256K1' || out.KeyUsage !== 'SIGN_VERIFY' || !out.PublicKey) {
      throw new KmsKeyError(`KMS key ${keyId} is ${spec}/${out.KeyUsage}; a hot wallet needs ECC_SECG_P256K1 with SIGN_VERIFY.`, {
        code: 'kms_wrong_key_spec',
      });
    }
    return addressFromSpki(out.PublicKey);
  }

  async function load(keyRef: string, keyId: string): Promise<TxSigner> {
    const address = await addressOf(keyId);
    logger.info({ keyRef, wallet: address }, 'KMS signer ready');
    return {
      address,
      async signTransaction(tx: TransactionSerializableEIP1559, unsigned?: Hex) {
        const bytes = hexToBytes(unsigned ?? serializeTransaction(tx));
        const hash = keccak256(bytes);
        const out = await call('Sign', keyId, () =>
          client.send(new SignCommand({ KeyId: keyId, Message: hexToBytes(hash), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })),
        );
        if (!out.Signature) throw new KmsKeyError(`KMS Sign with ${keyId} returned no signature.`, { code: 'kms_no_signature' });
        const { r, s, yParity } = await toRecoverableSignature({ hash, der: out.Signature, address });
        return bytesToHex(joinSignedEip1559(bytes, { yParity, r: hexToBytes(r, { size: 32 }), s: hexToBytes(s, { size: 32 }) }));
      },
    };
  }

  return {
    kind: 'kms',
    async createKey(label: string) {
      const name = sanitizeLabel(label);
      const aliasName = `alias/sluice-${name}`;
      // Aliases are unique per account and region; checking first avoids an orphaned key for a
      // label that is already taken (a lost race still returns a usable key, just without alias).
      if (await aliasExists(aliasName)) {
        throw new KmsKeyError(`KMS alias ${aliasName} already exists; choose another label.`, { code: 'kms_alias_exists' });
      }
      const created = await call('CreateKey', aliasName, () =>
        client.send(
          new CreateKeyCommand({
            KeySpec: 'ECC_SECG_P256K1',
            KeyUsage: 'SIGN_VERIFY',
            Description: `Sluice hot wallet ${label}`,
            Tags: [{ TagKey: 'sluice:label', TagValue: name }],
          }),
        ),
      );
      const keyId = created.KeyMetadata?.KeyId;
      if (!keyId) throw new KmsKeyError('KMS CreateKey returned no key id.', { code: 'kms_no_key_id' });
      const address = await addressOf(keyId);
      const keyRef = formatKeyRef({ store: 'kms', id: keyId });
      try {
        await client.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: keyId }));
      } catch (err) {
        // The ref names the key id, so a key without its alias still works; anything else is
        // reported with the key id so the operator can alias or schedule deletion of it.
        if (awsErrorName(err) !== 'AlreadyExistsException') throw kmsError(err, `CreateAlias ${aliasName} (key created: ${keyRef})`, keyId);
        logger.warn({ keyRef, alias: aliasName, wallet: address }, 'KMS alias was taken meanwhile; key created without it');
      }
      logger.info({ keyRef, alias: aliasName, wallet: address }, 'created KMS hot-wallet key');
      return { keyRef, address };
    },
    signer(keyRef: string) {
      const keyId = keyIdFor('kms', keyRef);
      const cached = signers.get(keyRef);
      if (cached) return cached;
      const loading = load(keyRef, keyId);
      signers.set(keyRef, loading);
      // A failed load is not cached: the next call asks KMS again.
      loading.catch(() => {
        if (signers.get(keyRef) === loading) signers.delete(keyRef);
      });
      return loading;
    },
  };

  async function aliasExists(aliasName: string): Promise<boolean> {
    try {
      await client.send(new DescribeKeyCommand({ KeyId: aliasName }));
      return true;
    } catch (err) {
      if (awsErrorName(err) === 'NotFoundException') return false;
      throw kmsError(err, 'DescribeKey', aliasName);
    }
  }
}

const KEY_PROBLEMS: Record<string, { code: string; why: string }> = {
  DisabledException: { code: 'kms_key_disabled', why: 'is disabled; enable it in KMS' },
  NotFoundException: { code: 'kms_key_not_found', why: 'does not exist in this account and region' },
  KMSInvalidStateException: { code: 'kms_key_invalid_state', why: 'is not usable in its current state (pending deletion or import?)' },
  InvalidKeyUsageException: { code: 'kms_wrong_key_spec', why: 'cannot sign (want KeyUsage SIGN_VERIFY)' },
  AccessDeniedException: { code: 'kms_access_denied', why: 'is not accessible to this role (kms:Sign / kms:GetPublicKey)' },
};

function kmsError(err: unknown, operation: string, keyId: string): SluiceError {
  if (err instanceof SluiceError) return err;
  if (isTransientAwsError(err)) {
    return new KmsUnavailableError(`KMS ${operation} for ${keyId} failed; will retry.`, { cause: err, code: 'kms_unavailable' });
  }
  const problem = KEY_PROBLEMS[awsErrorName(err) ?? ''];
  if (problem) return new KmsKeyError(`KMS key ${keyId} ${problem.why}.`, { cause: err, code: problem.code });
  return new KmsKeyError(`KMS ${operation} for ${keyId} failed.`, { cause: err, code: 'kms_error' });
}
