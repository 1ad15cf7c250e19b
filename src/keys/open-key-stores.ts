import path from 'node:path';
import type { Address } from 'viem';
import { awsClientConfig } from '../aws/clients.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SluiceError } from '../errors/base.js';
import type { Logger } from '../observability/logger.js';
import { parseKeyRef } from './key-refs.js';
import { createFileKeyStore } from './keystore-file.js';
import type { KeyStore, KeyStoreKind, TxSigner } from './types.js';

/**
 * All the key stores one process uses, behind one KeyStore: `signer(keyRef)` goes to the store the
 * ref's scheme names, `createKey(label, store)` to the store asked for. In production the keystore
 * (raw keys in files) is refused when the stores open and again whenever a keystore ref is used
 * (DESIGN §3 invariant 8): a wallet row left over from dev must not quietly sign.
 */
export class KeyStoreRefusedError extends SluiceError {
  override name = 'KeyStoreRefusedError';
}

export type KeyStores = KeyStore & {
  readonly stores: readonly KeyStoreKind[];
  createKey(label: string, store?: KeyStoreKind): Promise<{ keyRef: string; address: Address }>;
  /** Releases the AWS clients' sockets. */
  close(): void;
};

export type KeyStoreSet = Partial<Record<KeyStoreKind, KeyStore>>;

const PRODUCTION_REFUSAL =
  'Keystore keys are not allowed in production (NODE_ENV=production): raw keys in files or env vars are refused; use kms or secrets-manager.';

function refuse(): never {
  throw new KeyStoreRefusedError(PRODUCTION_REFUSAL, { code: 'raw_keys_refused' });
}

export function createKeyStores(input: { production: boolean; stores: KeyStoreSet; close?: () => void }): KeyStores {
  const { production, stores } = input;
  if (production && stores.keystore) refuse();
  const open = (Object.keys(stores) as KeyStoreKind[]).filter((kind) => stores[kind]);

  function storeFor(kind: KeyStoreKind, what: string): KeyStore {
    if (production && kind === 'keystore') refuse();
    const store = stores[kind];
    if (!store) {
      throw new KeyStoreRefusedError(`${what} needs the ${kind} key store, which this process did not open (open: ${open.join(', ') || 'none'}).`, {
        code: 'key_store_not_open',
      });
    }
    return store;
  }

  return {
    kind: 'composite',
    stores: open,
    async createKey(label: string, store?: KeyStoreKind) {
      if (!store && open.length !== 1) {
        throw new KeyStoreRefusedError(`Say which key store to create the key in (--store ${open.join('|') || 'kms|secrets-manager'}).`, {
          code: 'key_store_ambiguous',
        });
      }
      const kind = store ?? open[0]!;
      return storeFor(kind, `Creating a ${kind} key`).createKey(label);
    },
    async signer(keyRef: string): Promise<TxSigner> {
      const { store } = parseKeyRef(keyRef);
      return storeFor(store, `Key ref "${keyRef}"`).signer(keyRef);
    },
    close: () => input.close?.(),
  };
}

/**
 * Opens the stores a command or role needs, from the validated config (env only, DESIGN §5). An AWS
 * store's SDK client is loaded only when that store is wanted: each is ~5 MB of a process's memory
 * that a keystore signer (`sluice dev`) or a KMS-only signer would carry for nothing.
 */
export async function openKeyStores(config: Config, options: { logger: Logger; stores: readonly KeyStoreKind[] }): Promise<KeyStores> {
  const production = config.nodeEnv === 'production';
  const wanted = new Set(options.stores);
  if (production && wanted.has('keystore')) refuse();
  const stores: KeyStoreSet = {};
  const clients: { destroy(): void }[] = [];

  if (wanted.has('keystore')) {
    stores.keystore = createFileKeyStore({
      dir: path.join(config.dataDir, 'keystore'),
      password: need(config.keystorePassword, 'SLUICE_KEYSTORE_PASSWORD', 'keystore'),
    });
  }
  if (wanted.has('kms')) {
    const [{ KMSClient }, { createKmsKeyStore }] = await Promise.all([import('@aws-sdk/client-kms'), import('./kms-key-store.js')]);
    const client = new KMSClient(awsClientConfig(config, 'kms'));
    clients.push(client);
    stores.kms = createKmsKeyStore({ client, logger: options.logger });
  }
  if (wanted.has('secrets-manager')) {
    const password = need(config.keystorePassword, 'SLUICE_KEYSTORE_PASSWORD', 'secrets-manager');
    const [{ SecretsManagerClient }, { createSecretsManagerKeyStore }] = await Promise.all([
      import('@aws-sdk/client-secrets-manager'),
      import('./secrets-manager-key-store.js'),
    ]);
    const client = new SecretsManagerClient(awsClientConfig(config, 'secretsManager'));
    clients.push(client);
    stores['secrets-manager'] = createSecretsManagerKeyStore({
      client,
      password,
      cacheTtlMs: config.secretsCacheTtlSeconds * 1000,
      logger: options.logger,
    });
  }
  return createKeyStores({ production, stores, close: () => clients.forEach((c) => c.destroy()) });
}

function need(value: string | undefined, env: string, store: KeyStoreKind): string {
  if (!value) throw new ConfigError(`${env} is required for the ${store} key store.`, { code: 'missing_config' });
  return value;
}
