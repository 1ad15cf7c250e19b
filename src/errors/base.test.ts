import { describe, expect, it } from 'vitest';
import { errorCode, SluiceError } from './base.js';

describe('errorCode', () => {
  it('is the typed code of a SluiceError and "unexpected" for anything else (a bounded metric label, never free text)', () => {
    expect(errorCode(new SluiceError('Node refused.', { code: 'node_rejected' }))).toBe('node_rejected');
    expect(errorCode(new Error('ECONNRESET at 10.0.0.1'))).toBe('unexpected');
    expect(errorCode('a string')).toBe('unexpected');
  });
});
