import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createConnection } from 'mysql2/promise';
import { parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chainControl } from '../support/chain-control.js';
import { checkLedger } from '../support/ledger-check.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

/**
 * Invariant 11: an infrastructure failure is never the user's fault. The database blinks while
 * withdrawals are in flight — on MariaDB every Sluice connection is killed, several times; on
 * SQLite another process holds the file locked past the busy timeout — and every accepted
 * withdrawal still completes: none rejected, none dead-lettered, the ledger conserved.
 */
describe(`a database blink on ${dbKind}`, () => {
  let stack: Stack;

  beforeAll(async () => {
    // Two failed deliveries and the signer gives a request up: a blink must not look permanent then.
    stack = await startStack(dbKind, { reconcileAfterSeconds: 1, reconcileIntervalMs: 300, rebroadcastAfterSeconds: 1, signerMaxAttempts: 2 });
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  async function blink(): Promise<number> {
    if (dbKind === 'mysql') {
      const url = new URL(stack.database.url);
      const admin = await createConnection(stack.database.url);
      let killed = 0;
      try {
        for (let round = 0; round < 8; round++) {
          const [rows] = await admin.query('SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()', [url.pathname.slice(1)]);
          for (const { id } of rows as Array<{ id: number }>) {
            await admin.query(`KILL CONNECTION ${Number(id)}`).catch(() => {});
            killed += 1;
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      } finally {
        await admin.end();
      }
      return killed;
    }
    // Another process takes the SQLite file for two of Sluice's busy timeouts (5 s each).
    const file = stack.database.url.slice('sqlite:'.length);
    const holder = spawn(process.execPath, ['-e', `const db = new (require('better-sqlite3'))(${JSON.stringify(file)}); db.exec('BEGIN EXCLUSIVE'); console.log('locked'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, 11000);`], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
    });
    await new Promise((r) => holder.once('exit', r));
    return 1;
  }

  /** A client that retries a failed POST with the same Idempotency-Key until it is accepted. */
  async function submit(userId: string, i: number): Promise<{ id: string; to: `0x${string}` }> {
    await new Promise((r) => setTimeout(r, i * 40));
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const key = randomUUID();
    for (;;) {
      const res = await stack
        .request('POST', '/v1/withdrawals', { body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: '0.01' }, headers: { 'idempotency-key': key } })
        .catch(() => ({ status: 0, body: null }));
      if (res.status === 202) return { id: res.body.id, to };
      expect([0, 500, 503]).toContain(res.status); // the blink, never a refusal
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('completes every accepted withdrawal through the blink', async () => {
    const userId = `blink-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '5', reference: randomUUID() } });
    // The blink starts with the requests: the API, the signer and everything after it meet it.
    const blinking = blink();
    const items = await Promise.all(Array.from({ length: 30 }, (_, i) => submit(userId, i)));
    expect(await blinking).toBeGreaterThan(0);

    const client = chainControl(stack.rpcUrl).client;
    for (const { id, to } of items) {
      const done = await waitFor(`withdrawal ${id}`, async () => {
        const w = (await stack.request('GET', `/v1/withdrawals/${id}`)).body;
        return TERMINAL.includes(w.status) ? w : undefined;
      }, 90_000, 200);
      expect({ id, status: done.status }).toEqual({ id, status: 'COMPLETED' });
      expect(await client.getBalance({ address: to })).toBe(parseEther('0.01'));
    }
    const letters = await stack.services.deadLetters.list({});
    expect(letters.filter((l) => items.some((i) => i.id === l.withdrawal_id))).toEqual([]);
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });
});
