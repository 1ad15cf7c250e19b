import { describe, expect, it } from 'vitest';
import { formatKeyRef, keyIdFor, KeyRefError, parseKeyRef, sanitizeLabel } from './key-refs.js';

function refError(fn: () => unknown): KeyRefError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KeyRefError);
    return err as KeyRefError;
  }
  throw new Error('expected a KeyRefError');
}

describe('parseKeyRef', () => {
  it.each([
    ['kms:1234abcd-12ab-34cd-56ef-1234567890ab', 'kms', '1234abcd-12ab-34cd-56ef-1234567890ab'],
    ['kms:mrk-1234abcd12ab34cd56ef1234567890ab', 'kms', 'mrk-1234abcd12ab34cd56ef1234567890ab'],
    ['kms:alias/sluice-hot-1', 'kms', 'alias/sluice-hot-1'],
    ['kms:arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'kms', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
    ['kms:arn:aws:kms:us-east-1:111122223333:alias/sluice-hot', 'kms', 'arn:aws:kms:us-east-1:111122223333:alias/sluice-hot'],
    ['secretsmanager:sluice/hot-wallet/hot-0xAb', 'secrets-manager', 'sluice/hot-wallet/hot-0xAb'],
    ['secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:sluice/hot-AbCdEf', 'secrets-manager', 'arn:aws:secretsmanager:us-east-1:111122223333:secret:sluice/hot-AbCdEf'],
    ['keystore:hot--0xAbc.json', 'keystore', 'hot--0xAbc.json'],
    // Legacy dev rows: a bare file name is a keystore ref.
    ['hot-0--0xAbc.json', 'keystore', 'hot-0--0xAbc.json'],
  ])('%s → %s', (ref, store, id) => {
    expect(parseKeyRef(ref)).toEqual({ store, id });
  });

  it('names the unknown scheme and the ones it knows', () => {
    const err = refError(() => parseKeyRef('vault:secret/hot'));
    expect(err.code).toBe('key_ref_unknown_scheme');
    expect(err.message).toMatch(/"vault".*kms:, secretsmanager: or keystore:/);
    expect(refError(() => parseKeyRef('secrets-manager:x')).code).toBe('key_ref_unknown_scheme');
    expect(refError(() => parseKeyRef('toString:x')).code).toBe('key_ref_unknown_scheme');
  });

  it.each([
    'kms:',
    'kms:not-a-key',
    'kms:alias/',
    'kms:arn:aws:kms:us-east-1:1:key/x',
    'secretsmanager:',
    'secretsmanager:has space',
    'keystore:../etc/passwd',
    'keystore:..',
    'keystore:a/b.json',
    '',
  ])('rejects the malformed ref %j', (ref) => {
    expect(refError(() => parseKeyRef(ref)).code).toBe('key_ref_invalid');
  });

  it('formats what it parses', () => {
    for (const ref of ['kms:alias/x', 'secretsmanager:sluice/hot-wallet/a', 'keystore:a.json']) {
      expect(formatKeyRef(parseKeyRef(ref))).toBe(ref);
    }
    expect(formatKeyRef({ store: 'keystore', id: 'legacy.json' })).toBe('keystore:legacy.json');
    expect(() => formatKeyRef({ store: 'kms', id: 'nope' })).toThrow(KeyRefError);
  });

  it('keyIdFor insists on the store', () => {
    expect(keyIdFor('kms', 'kms:alias/x')).toBe('alias/x');
    expect(refError(() => keyIdFor('kms', 'secretsmanager:x')).code).toBe('key_ref_wrong_store');
    expect(refError(() => keyIdFor('secrets-manager', 'plain.json')).code).toBe('key_ref_wrong_store');
  });
});

describe('sanitizeLabel', () => {
  it('keeps alias-safe characters and folds the rest into dashes', () => {
    expect(sanitizeLabel('hot-1')).toBe('hot-1');
    expect(sanitizeLabel(' hot wallet/#1 ')).toBe('hot-wallet-1');
    expect(sanitizeLabel('x'.repeat(300))).toHaveLength(200);
    expect(refError(() => sanitizeLabel('///')).code).toBe('key_label_invalid');
  });
});
