import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets } from './logger.js';

function capture() {
  const out = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  out.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (p) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  return { out, lines, settled: () => new Promise((r) => setImmediate(r)) };
}

describe('log redaction', () => {
  it('never writes a secret, at the top of an entry or nested, in child bindings too', async () => {
    const { out, lines, settled } = capture();
    const logger = createLogger({ level: 'info', destination: out });
    const secrets = {
      privateKey: 's1',
      password: 's2',
      apiKey: 's3',
      key: 's4',
      cookie: 's5',
      sessionCookie: 's6',
      adminPassword: 's7',
      secret: 's8',
      mnemonic: 's9',
      keystorePassword: 's10',
      wallet: { privateKey: 's11', address: '0xabc' },
      login: { password: 's12', adminPassword: 's13', username: 'ops' },
      client: { apiKey: 's14', secret: 's15', keystorePassword: 's16' },
      req: { headers: { authorization: 's17', cookie: 's18', host: 'sluice' } },
      headers: { authorization: 's19', cookie: 's20', 'set-cookie': 's21', accept: '*/*' },
      config: { devApiKey: 's22', devAdminPassword: 's23', keystorePassword: 's24', dbUrl: 'mysql://u:s25@db/sluice', port: 8080 },
    };
    logger.info(secrets, 'everything secret');
    logger.child({ component: 'keys', privateKey: 's26', wallet: { mnemonic: 's27' } }).info({ withdrawalId: 'wd_1' }, 'child');
    await settled();
    const written = lines.map((l) => JSON.stringify(l)).join('\n');
    for (let i = 1; i <= 27; i++) expect(written).not.toMatch(new RegExp(`\\bs${i}\\b`));
    expect(lines[0]).toMatchObject({ privateKey: '[redacted]', wallet: { privateKey: '[redacted]', address: '0xabc' }, req: { headers: { authorization: '[redacted]', host: 'sluice' } }, config: { dbUrl: '[redacted]', port: 8080 } });
    expect(lines[1]).toMatchObject({ component: 'keys', privateKey: '[redacted]', wallet: { mnemonic: '[redacted]' }, withdrawalId: 'wd_1' });
    // The caller's objects are left as they were.
    expect(secrets.wallet.privateKey).toBe('s11');
    expect(secrets.req.headers.authorization).toBe('s17');
  });

  it('a child of a child keeps every ancestor\'s bindings and redacts its own (Fastify logs through one)', async () => {
    const { out, lines, settled } = capture();
    const logger = createLogger({ level: 'info', name: 'api', destination: out });
    const api = logger.child({ component: 'api' });
    api.child({}, { level: 'info' }).info('Server listening');
    api.child({ reqId: 'r1', apiKey: 's1' }).child({ step: 'accept' }).info('accepted');
    await settled();
    expect(lines[0]).toMatchObject({ role: 'api', component: 'api', msg: 'Server listening' });
    expect(lines[1]).toMatchObject({ role: 'api', component: 'api', reqId: 'r1', apiKey: '[redacted]', step: 'accept', msg: 'accepted' });
  });

  it('copies only what holds a secret, and an error keeps its message and type', () => {
    const plain = { withdrawalId: 'wd_1', nonce: 4, txHashes: ['0x1'] };
    expect(redactSecrets(plain)).toBe(plain);
    const err = Object.assign(new TypeError('bad key file'), { secret: 'hunter2' });
    const out = redactSecrets({ err });
    expect(out.err).toBeInstanceOf(TypeError);
    expect(out.err.message).toBe('bad key file');
    expect(out.err.secret).toBe('[redacted]');
    expect(err.secret).toBe('hunter2');
  });
});
