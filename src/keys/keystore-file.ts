import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Address, bytesToHex, getAddress, type Hex, hexToBytes, keccak256 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { SluiceError } from '../errors/base.js';
import { createConcurrencyLimit } from '../util/concurrency-limit.js';
import { signTransactionWithKey } from './secp256k1.js';
import type { KeyStore, TxSigner } from './types.js';

/**
 * Encrypted key files in the Web3 Secret Storage v3 format (scrypt + aes-128-ctr + keccak MAC),
 * so keys can move to and from geth/foundry keystores. The key ref is the file name.
 */
export class KeystoreError extends SluiceError {
  override name = 'KeystoreError';
}

/** A Web3 Secret Storage v3 document (what a keystore file or a Secrets Manager secret holds). */
export type KeystoreV3 = V3;

type V3 = {
  version: 3;
  id: string;
  address: string;
  crypto: {
    cipher: 'aes-128-ctr';
    ciphertext: string;
    cipherparams: { iv: string };
    kdf: 'scrypt';
    kdfparams: { dklen: number; n: number; r: number; p: number; salt: string };
    mac: string;
  };
};

export type ScryptCost = { n: number; r: number; p: number };
const DEFAULT_COST: ScryptCost = { n: 1 << 15, r: 8, p: 1 };

/**
 * scrypt holds 128·N·r bytes while it runs (32 MB at the v3 default), outside the JS heap, and a
 * signer unlocks all its wallets at start (warm-keys.ts), when that is its peak RSS: with two
 * derivations at a time the keystore signer's RSS swung by ~60 MB while its 8 wallets unlocked
 * (sampled every 30 ms) and the peak was there, not under load. One at a time halves that swing and
 * the unlocking's speed on two cores (8 wallets: ~1 s more before the last lane signs). Bench
 * signer, keystore, alternated same-hour runs: peak 243 and 252 MiB with two, 235 and 241 with
 * one; four at a time had been 316 MB.
 */
const oneDerivationAtATime = createConcurrencyLimit(1);

function derive(password: string, salt: Buffer, cost: ScryptCost, dklen: number): Promise<Buffer> {
  return oneDerivationAtATime(() => deriveNow(password, salt, cost, dklen));
}

/**
 * scrypt at the v3 default cost takes ~100 ms of CPU: the async form runs it on libuv's thread
 * pool, so unlocking a wallet never stalls the event loop (the API, the other lanes).
 */
function deriveNow(password: string, salt: Buffer, cost: ScryptCost, dklen: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, dklen, { N: cost.n, r: cost.r, p: cost.p, maxmem: 256 * cost.n * cost.r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

function mac(derived: Buffer, ciphertext: Buffer): string {
  return keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])).slice(2);
}

export async function encryptKey(privateKey: Hex, password: string, cost: ScryptCost = DEFAULT_COST): Promise<V3> {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const derived = await derive(password, salt, cost, 32);
  const cipher = createCipheriv('aes-128-ctr', derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(hexToBytes(privateKey)), cipher.final()]);
  return {
    version: 3,
    id: crypto.randomUUID(),
    address: privateKeyToAccount(privateKey).address.slice(2).toLowerCase(),
    crypto: {
      cipher: 'aes-128-ctr',
      ciphertext: ciphertext.toString('hex'),
      cipherparams: { iv: iv.toString('hex') },
      kdf: 'scrypt',
      kdfparams: { dklen: 32, n: cost.n, r: cost.r, p: cost.p, salt: salt.toString('hex') },
      mac: mac(derived, ciphertext),
    },
  };
}

export async function decryptKey(file: V3, password: string): Promise<Hex> {
  if (file.version !== 3 || file.crypto.kdf !== 'scrypt' || file.crypto.cipher !== 'aes-128-ctr') {
    throw new KeystoreError('Unsupported keystore file (want v3, scrypt, aes-128-ctr).', { code: 'keystore_unsupported' });
  }
  const { kdfparams, ciphertext, cipherparams } = file.crypto;
  const ct = Buffer.from(ciphertext, 'hex');
  const derived = await derive(password, Buffer.from(kdfparams.salt, 'hex'), kdfparams, kdfparams.dklen);
  if (mac(derived, ct) !== file.crypto.mac.toLowerCase()) {
    throw new KeystoreError('Wrong keystore password (MAC mismatch).', { code: 'keystore_bad_password' });
  }
  const decipher = createDecipheriv('aes-128-ctr', derived.subarray(0, 16), Buffer.from(cipherparams.iv, 'hex'));
  return bytesToHex(Buffer.concat([decipher.update(ct), decipher.final()]));
}

export function createFileKeyStore(options: { dir: string; password: string; cost?: ScryptCost }): KeyStore {
  const { dir, password } = options;
  const signers = new Map<string, Promise<TxSigner>>();

  async function unlock(keyRef: string): Promise<TxSigner> {
    let parsed: V3;
    try {
      parsed = JSON.parse(fs.readFileSync(fileFor(keyRef), 'utf8')) as V3;
    } catch (cause) {
      throw new KeystoreError(`Cannot read keystore file ${keyRef}.`, { cause, code: 'keystore_unreadable' });
    }
    const privateKey = await decryptKey(parsed, password);
    const keyBytes = hexToBytes(privateKey);
    return {
      address: privateKeyToAccount(privateKey).address as Address,
      signTransaction: (tx, unsigned) => signTransactionWithKey(tx, keyBytes, unsigned),
    };
  }

  function fileFor(keyRef: string): string {
    // Refs may carry the `keystore:` scheme (key-refs.ts); bare names are the older dev form.
    if (keyRef.startsWith('keystore:')) keyRef = keyRef.slice('keystore:'.length);
    if (!/^[\w.-]+$/.test(keyRef)) throw new KeystoreError(`Invalid keystore key ref "${keyRef}".`, { code: 'keystore_bad_ref' });
    return path.join(dir, keyRef);
  }

  return {
    kind: 'keystore',
    async createKey(label: string) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const privateKey = generatePrivateKey();
      const v3 = await encryptKey(privateKey, password, options.cost);
      const address = getAddress(`0x${v3.address}`);
      // Named by its scheme, as sluice.yaml names it; bare file names (older dev rows) still work.
      const keyRef = `keystore:${label}--${address}.json`;
      fs.writeFileSync(fileFor(keyRef), JSON.stringify(v3), { mode: 0o600, flag: 'wx' });
      return { keyRef, address };
    },
    signer(keyRef: string): Promise<TxSigner> {
      // The promise is cached, so concurrent first uses of a wallet share one file read and scrypt run.
      let signer = signers.get(keyRef);
      if (!signer) {
        signer = unlock(keyRef);
        signers.set(keyRef, signer);
        const mine = signer;
        mine.catch(() => {
          if (signers.get(keyRef) === mine) signers.delete(keyRef);
        });
      }
      return signer;
    },
  };
}
