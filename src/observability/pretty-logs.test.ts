import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { createPrettyDestination, formatLogLine } from './pretty-logs.js';

describe('pretty logs', () => {
  it('prints one human line per entry with the stable keys as key=value', () => {
    const line = formatLogLine(JSON.stringify({ level: 30, time: '2026-01-02T03:04:05.678Z', service: 'sluice', role: 'signer', component: 'signer', msg: 'signed', withdrawalId: 'wd_1', nonce: 4, txHash: '0xab' }));
    expect(line).toBe('03:04:05 INFO  [signer/signer] signed withdrawalId=wd_1 nonce=4 txHash=0xab');
  });

  it('shows an error by its type, code and first line only', () => {
    const line = formatLogLine(JSON.stringify({ level: 50, time: '2026-01-02T03:04:05Z', msg: 'failed', err: { type: 'SluiceError', code: 'node_rejected', message: 'Node refused.\nDetails: long', stack: 'at x' } }));
    expect(line).toBe('03:04:05 ERROR failed err="SluiceError(node_rejected): Node refused."');
    expect(line).not.toContain('\n');
  });

  it('holds lines until released (the dev banner comes first), then passes them through', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const pretty = createPrettyDestination(out);
    const logger = createLogger({ level: 'info', destination: pretty.stream });
    logger.info({ chainId: 1 }, 'before banner');
    await new Promise((r) => setImmediate(r));
    expect(text).toBe('');
    pretty.release();
    logger.warn({ wallet: '0x1' }, 'after banner');
    await new Promise((r) => setImmediate(r));
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ INFO  before banner chainId=1$/);
    expect(lines[1]).toMatch(/ WARN  after banner wallet=0x1$/);
  });

  it('redacts secrets whatever key path they are logged under', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const logger = createLogger({ level: 'info', destination: out });
    logger.info({ apiKey: 'sk_live_1', password: 'pw-1', privateKey: '0xkey1', headers: { authorization: 'Bearer sk_live_2', cookie: 'sluice_session=abc' }, adminPassword: 'admin-1', secret: 's-1' }, 'x');
    await new Promise((r) => setImmediate(r));
    for (const secret of ['sk_live_1', 'pw-1', '0xkey1', 'sk_live_2', 'sluice_session=abc', 'admin-1', 's-1']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});
