import { describe, expect, it } from 'vitest';
import { readCookie } from '../api/admin-auth.js';
import { isAdminRole, roleAllows } from './roles.js';

describe('console roles', () => {
  it('orders viewer < operator < admin', () => {
    expect(roleAllows('viewer', 'viewer')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('operator', 'admin')).toBe(false);
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(isAdminRole('root')).toBe(false);
    expect(isAdminRole('operator')).toBe(true);
  });

  it('reads the session cookie among others, and nothing from a look-alike name', () => {
    expect(readCookie('theme=dark; sluice_session=abc-123; x=1', 'sluice_session')).toBe('abc-123');
    expect(readCookie('not_sluice_session=abc', 'sluice_session')).toBeUndefined();
    expect(readCookie(undefined, 'sluice_session')).toBeUndefined();
    expect(readCookie('sluice_session=%E0%A4%A', 'sluice_session')).toBeUndefined();
  });
});
