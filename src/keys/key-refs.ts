import { SluiceError } from '../errors/base.js';
import type { KeyStoreKind } from './types.js';

/**
 * What `wallets.key_ref` holds: `<scheme>:<id>`, where the scheme names the store and the id is
 * that store's own name for the key. Refs are identifiers, never secrets, so errors may quote them.
 * A ref without a scheme is a keystore file name: dev databases made before schemes existed hold
 * bare names such as `hot-0--0xAbc….json`.
 */
export class KeyRefError extends SluiceError {
  override name = 'KeyRefError';
}

export type KeyRef = { store: KeyStoreKind; id: string };

const SCHEMES: Record<string, KeyStoreKind> = { kms: 'kms', secretsmanager: 'secrets-manager', keystore: 'keystore' };
const PREFIX: Record<KeyStoreKind, string> = { kms: 'kms', 'secrets-manager': 'secretsmanager', keystore: 'keystore' };

// KMS accepts a key id (UUID, or mrk-… for multi-Region keys), a key ARN, an alias name or an alias ARN.
const KMS_KEY_ID = /^(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const KMS_ALIAS = /^alias\/[\w/-]{1,250}$/;
const KMS_ARN = /^arn:aws[\w-]*:kms:[\w-]+:\d{12}:(?:key\/[\w-]+|alias\/[\w/-]+)$/;
// Secrets Manager names: letters, digits and /_+=.@- (max 512); or the secret's ARN.
const SECRET_NAME = /^[\w/+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:[\w/+=.@-]+$/;
// A plain file name inside the keystore directory; never a path.
const KEYSTORE_FILE = /^[\w.-]{1,255}$/;

const VALID: Record<KeyStoreKind, (id: string) => boolean> = {
  kms: (id) => KMS_KEY_ID.test(id) || KMS_ALIAS.test(id) || KMS_ARN.test(id),
  'secrets-manager': (id) => SECRET_NAME.test(id) || SECRET_ARN.test(id),
  keystore: (id) => KEYSTORE_FILE.test(id) && id !== '.' && id !== '..',
};

const EXPECTED: Record<KeyStoreKind, string> = {
  kms: 'a key id, key ARN, alias/<name> or alias ARN',
  'secrets-manager': 'a secret name (letters, digits, /_+=.@-) or secret ARN',
  keystore: 'a file name in the keystore directory',
};

export function parseKeyRef(keyRef: string): KeyRef {
  const colon = keyRef.indexOf(':');
  if (colon < 0) return checked('keystore', keyRef, keyRef);
  const scheme = keyRef.slice(0, colon);
  const store = Object.hasOwn(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
  if (!store) {
    throw new KeyRefError(`Unknown key store "${scheme}" in key ref "${keyRef}"; expected kms:, secretsmanager: or keystore:.`, {
      code: 'key_ref_unknown_scheme',
    });
  }
  return checked(store, keyRef.slice(colon + 1), keyRef);
}

export function formatKeyRef(ref: KeyRef): string {
  return `${PREFIX[ref.store]}:${checked(ref.store, ref.id, ref.id).id}`;
}

/** Parses `keyRef` and insists it belongs to `store` (each store only signs with its own refs). */
export function keyIdFor(store: KeyStoreKind, keyRef: string): string {
  const ref = parseKeyRef(keyRef);
  if (ref.store !== store) {
    throw new KeyRefError(`Key ref "${keyRef}" belongs to the ${ref.store} store, not ${store}.`, { code: 'key_ref_wrong_store' });
  }
  return ref.id;
}

/**
 * A wallet label made safe for KMS alias and Secrets Manager names (letters, digits, `_`, `-`):
 * anything else becomes `-`, so `hot 1` and `hot/1` both name `hot-1`.
 */
export function sanitizeLabel(label: string): string {
  const clean = label
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 200);
  if (!clean) throw new KeyRefError(`Label "${label}" has no letters or digits to name a key with.`, { code: 'key_label_invalid' });
  return clean;
}

function checked(store: KeyStoreKind, id: string, keyRef: string): KeyRef {
  if (!VALID[store](id)) {
    throw new KeyRefError(`Invalid ${store} key ref "${keyRef}": want ${EXPECTED[store]}.`, { code: 'key_ref_invalid' });
  }
  return { store, id };
}
