import type { Address, Hex, TransactionSerializableEIP1559 } from 'viem';

/**
 * Signs for one hot wallet. Implementations keep the key where it lives (decrypted in memory for
 * the keystore, inside the HSM for KMS) and never hand it out.
 */
export interface TxSigner {
  readonly address: Address;
  /**
   * The signed serialization of `tx`. `unsigned`, if given, is that serialization unsigned as the
   * caller made and verified it (invariant 9): those exact bytes are signed.
   */
  signTransaction(tx: TransactionSerializableEIP1559, unsigned?: Hex): Promise<Hex>;
}

/** Where hot-wallet keys live: encrypted keystore files (dev), Secrets Manager, KMS. */
export interface KeyStore {
  readonly kind: string;
  /** Creates a new key and returns its reference (stored in `wallets.key_ref`) and address. */
  createKey(label: string): Promise<{ keyRef: string; address: Address }>;
  signer(keyRef: string): Promise<TxSigner>;
}

/**
 * The stores a key can live in, as named on the command line (`--store`). A key ref's scheme says
 * which one holds it (`kms:`, `secretsmanager:`, `keystore:`; see key-refs.ts).
 */
export type KeyStoreKind = 'kms' | 'secrets-manager' | 'keystore';
