import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../../bench/options.js';

describe('bench options', () => {
  it('passes --node-args through as node flags, though they start with --', () => {
    const parsed = parseArgs(['--only', 'signer', '--node-args', '  --trace-opt   --trace-gc ', '--keep']);
    expect(parsed).toMatchObject({ only: ['signer'], keep: true, nodeArgs: ['--trace-opt', '--trace-gc'] });
  });

  it('leaves node flags out unless asked, and refuses --node-args without a value', () => {
    expect(parseArgs(['--quick'])).not.toHaveProperty('nodeArgs');
    expect(() => parseArgs(['--node-args'])).toThrow(/needs a value/);
    expect(() => parseArgs(['--node-args', ' '])).toThrow(/needs a value/);
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/unknown scenario/);
  });
});
