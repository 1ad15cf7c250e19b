import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createAssetRegistry } from '../assets/registry.js';
import { DEFAULT_CHAIN_POLICY } from '../chain/types.js';
import { loadChainConfigs } from '../chain/chain-registry.js';
import { type Db, openDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { applyDeploymentConfig, type Change, DeploymentConfigError, formatChanges } from './index.js';

const USDT = '0xdAC17F958D2ee523a2206206994597C13D831ec7';
const HOT1 = '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A';
const HOT2 = '0x1563915e194D8CfBA1943570603F7606A3115508';

type Knobs = { fee?: string; keyRef?: string; chainName?: string; contract?: string; extra?: string; startNonce?: number };

/** The file under test; each knob changes one thing an operator might edit. */
function yaml(k: Knobs = {}): string {
  return `
chains:
  - chainId: 31337
    name: ${k.chainName ?? 'Anvil Devnet'}
    rpc: [ { url: "http://127.0.0.1:8545", weight: 2 }, "http://127.0.0.1:8546" ]
    confirmations: 2
    maxFeePerGasGwei: "500"
    priorityFeeGwei: "1"
    explorerUrl: https://explorer.example.com
assets:
  - symbol: ETH
    ledgerDecimals: 18
    networks:
      - { chainId: 31337, kind: native, decimals: 18, withdrawalFee: "0.001", minAmount: "0.01", maxAmount: "10" }
  - symbol: USDT
    ledgerDecimals: 6
    networks:
      - chainId: 31337
        kind: erc20
        contract: "${k.contract ?? USDT}"
        decimals: 6
        withdrawalFee: "${k.fee ?? '1'}"
        minAmount: "5"
        maxAmount: "100000"
hotWallets:
  - { chainId: 31337, address: "${HOT1}", keyRef: "${k.keyRef ?? 'kms:alias/sluice-hot-1'}"${k.startNonce === undefined ? '' : `, startNonce: ${k.startNonce}`} }
  - { chainId: 31337, address: "${HOT2}", keyRef: "secretsmanager:sluice/hot-2", startNonce: 7 }
${k.extra ?? ''}`;
}

const summary = (changes: Change[]) => formatChanges(changes).split('\n').at(-1);

for (const kind of ['sqlite', 'mysql'] as const) {
  describe(`sluice config apply on ${kind}`, () => {
    let testDb: TestDatabase;
    let db: Db;

    beforeAll(async () => {
      testDb = await createTestDatabase(kind);
      db = openDatabase(testDb.url, { poolSize: 4 });
      await migrateToLatest(db);
    });
    afterAll(async () => {
      await db?.close();
      await testDb?.drop();
    });

    /** Everything apply may touch, to prove a refused apply touched nothing. */
    const snapshot = async () => ({
      chains: await db.kysely.selectFrom('chains').selectAll().orderBy('chain_id').execute(),
      assets: await db.kysely.selectFrom('assets').selectAll().orderBy('symbol').execute(),
      networks: await db.kysely.selectFrom('asset_networks').selectAll().orderBy('asset').execute(),
      wallets: await db.kysely.selectFrom('wallets').selectAll().orderBy('address').execute(),
      audit: await db.kysely.selectFrom('audit_log').select('id').execute(),
    });
    const refusal = async (text: string, options: { force?: boolean } = {}) => {
      const err = await applyDeploymentConfig({ db, text, ...options }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeploymentConfigError);
      return err as DeploymentConfigError;
    };

    it('creates everything on the first apply; a dry run before it writes nothing', async () => {
      const dry = await applyDeploymentConfig({ db, text: yaml(), dryRun: true });
      expect(formatChanges(dry.changes, { dryRun: true }).split('\n').at(-1)).toBe('7 created, 0 updated, 0 unchanged (dry run: nothing was written)');
      expect((await snapshot()).chains).toEqual([]);

      const { changes } = await applyDeploymentConfig({ db, text: yaml() });
      expect(formatChanges(changes).split('\n')).toEqual([
        '+ chain 31337 Anvil Devnet',
        '+ asset ETH',
        '+ asset USDT',
        '+ asset network ETH@31337',
        '+ asset network USDT@31337',
        `+ wallet ${HOT1}@31337`,
        `+ wallet ${HOT2}@31337`,
        '7 created, 0 updated, 0 unchanged',
      ]);

      const [chain] = await loadChainConfigs(db, DEFAULT_CHAIN_POLICY);
      expect(chain).toEqual({
        chainId: 31337,
        name: 'Anvil Devnet',
        rpc: [{ url: 'http://127.0.0.1:8545', weight: 2 }, { url: 'http://127.0.0.1:8546', weight: 1 }],
        confirmations: 2,
        maxFeePerGas: 500_000_000_000n,
        defaultPriorityFee: 1_000_000_000n,
        maxPendingPerWallet: 16, // the file leaves it out: geth's per-sender default
        policy: DEFAULT_CHAIN_POLICY,
      });
      const usdt = await createAssetRegistry(db).find('USDT', 31337);
      expect(usdt).toMatchObject({ chainName: 'Anvil Devnet', contract: USDT, withdrawalFee: 1_000_000n, maxAmount: 100_000_000_000n, gasLimit: 100_000, enabled: true });
      const wallets = (await snapshot()).wallets.map((w) => [w.address, w.key_ref, Number(w.next_nonce), Number(w.enabled)]);
      expect(wallets).toEqual([
        [HOT2, 'secretsmanager:sluice/hot-2', 7, 1],
        [HOT1, 'kms:alias/sluice-hot-1', 0, 1],
      ]);
      expect((await snapshot()).audit).toHaveLength(7);
    });

    it('is idempotent: the second apply is all unchanged and writes nothing', async () => {
      const before = await snapshot();
      const { changes } = await applyDeploymentConfig({ db, text: yaml() });
      expect(changes.every((c) => c.action === 'unchanged')).toBe(true);
      expect(summary(changes)).toBe('0 created, 0 updated, 7 unchanged');
      expect(formatChanges(changes)).toContain(`= wallet ${HOT1}@31337 (unchanged)`);
      expect(await snapshot()).toEqual(before);
    });

    it('shows a changed fee as a field-level update and applies it', async () => {
      const { changes } = await applyDeploymentConfig({ db, text: yaml({ fee: '2.5' }) });
      const lines = formatChanges(changes).split('\n');
      expect(lines).toContain('~ asset network USDT@31337: withdrawalFee 1 → 2.5');
      expect(lines.at(-1)).toBe('0 created, 1 updated, 6 unchanged');
      expect((await createAssetRegistry(db).find('USDT', 31337))!.withdrawalFee).toBe(2_500_000n);
      const audit = await db.kysely.selectFrom('audit_log').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
      expect([audit.action, audit.target_id, audit.before_state, audit.after_state]).toEqual([
        'asset_network.update', 'USDT@31337', '{"withdrawalFee":"1"}', '{"withdrawalFee":"2.5"}',
      ]);
    });

    it("refuses to switch a wallet's key without --force, and never moves its nonce", async () => {
      // The signer has used the lane since: next_nonce is its business alone.
      await db.kysely.updateTable('wallets').set({ next_nonce: 42 }).where('address', '=', HOT1).execute();
      const before = await snapshot();
      const err = await refusal(yaml({ fee: '3', keyRef: 'kms:alias/other' }));
      expect(err.code).toBe('deployment_change_refused');
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]).toMatch(/^hotWallets\[0\]\.keyRef: wallet 0x19E7.*@31337 is signed for with kms:alias\/sluice-hot-1; refusing to switch it to kms:alias\/other\. The key reference is the signing identity of this nonce lane/);
      expect(await snapshot()).toEqual(before); // the fee change in the same file was not applied either

      const forced = await applyDeploymentConfig({ db, text: yaml({ fee: '2.5', keyRef: 'kms:alias/other', startNonce: 0 }), force: true });
      const lines = formatChanges(forced.changes).split('\n');
      expect(lines).toContain(`~ wallet ${HOT1}@31337: keyRef kms:alias/sluice-hot-1 → kms:alias/other`);
      expect(lines).toContain('    note: startNonce 0 ignored: the lane already exists and is at nonce 42 (a file never moves a lane\'s nonce)');
      const hot1 = await db.kysely.selectFrom('wallets').selectAll().where('address', '=', HOT1).executeTakeFirstOrThrow();
      expect([hot1.key_ref, Number(hot1.next_nonce)]).toEqual(['kms:alias/other', 42]);
    });

    it('refuses a bad file with path-named errors and changes nothing', async () => {
      const before = await snapshot();
      const bad = yaml({ fee: '1', extra: '  - { chainId: 31337, address: "0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a", keyRef: "kms:x", colour: red }' });
      const err = await refusal(bad.replace('"http://127.0.0.1:8546"', '"not a url"'));
      expect(err.code).toBe('invalid_deployment_config');
      expect(err.problems).toEqual([
        'chains[0].rpc[1].url: must be a URL',
        `hotWallets[2].address: must be checksummed (EIP-55): ${HOT1}`,
        'hotWallets[2].colour: unknown key (misspelt? see docs/config-file.md)',
      ]);
      const syntax = await refusal('chains:\n  - chainId: 1\n   name: x\n');
      expect(syntax.problems[0]).toMatch(/^line 3, column \d+: /);
      expect(await snapshot()).toEqual(before);
    });

    it('refuses what the database contradicts: unknown chains, new ledger decimals, one key for two addresses', async () => {
      const before = await snapshot();
      const err = await refusal(
        yaml({ keyRef: 'kms:alias/other' }).replace('ledgerDecimals: 6', 'ledgerDecimals: 8') +
          `  - { chainId: 5, address: "${HOT1}", keyRef: "kms:alias/other" }\n  - { chainId: 31337, address: "0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB", keyRef: "secretsmanager:sluice/hot-2" }\n`,
      );
      expect(err.problems).toEqual([
        'assets[1].ledgerDecimals: USDT is kept with 6 ledger decimals; changing it to 8 would rescale every stored balance and amount (never done by a file: it needs a data migration)',
        'hotWallets[2].chainId: chain 5 is neither in this file\'s chains nor in the database',
        `hotWallets[3].keyRef: secretsmanager:sluice/hot-2 is already the key of hotWallets[1]; one key has one address`,
      ]);
      expect(await snapshot()).toEqual(before);
    });

    it("matches wallets case-insensitively, so a differently spelt address never becomes a second lane", async () => {
      const lower = '0x5cbdd86a2fa8dc4bddd8a8f69dba48572eec07fb';
      await db.kysely.insertInto('wallets').values({ chain_id: 31337, address: lower, key_ref: 'kms:alias/three', next_nonce: 3, enabled: 1, created_at: 1 }).execute();
      const { changes } = await applyDeploymentConfig({
        db,
        text: yaml({ keyRef: 'kms:alias/other', fee: '2.5' }) + '  - { chainId: 31337, address: "0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB", keyRef: "kms:alias/three", enabled: false }\n',
      });
      expect(formatChanges(changes)).toContain('~ wallet 0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB@31337: enabled true → false');
      const rows = await db.kysely.selectFrom('wallets').selectAll().where('key_ref', '=', 'kms:alias/three').execute();
      expect(rows.map((r) => [r.address, Number(r.enabled), Number(r.next_nonce)])).toEqual([[lower, 0, 3]]);
    });

    it('renames a chain everywhere, and guards payout changes while withdrawals are in flight', async () => {
      const base = { keyRef: 'kms:alias/other', fee: '2.5' };
      const extra = '  - { chainId: 31337, address: "0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB", keyRef: "kms:alias/three", enabled: false }\n';
      const renamed = await applyDeploymentConfig({ db, text: yaml({ ...base, chainName: 'Local Anvil' }) + extra });
      expect(formatChanges(renamed.changes)).toContain('~ chain 31337 Local Anvil: name Anvil Devnet → Local Anvil');
      expect(formatChanges(renamed.changes)).toContain('~ asset network USDT@31337: chainName Anvil Devnet → Local Anvil');
      expect((await createAssetRegistry(db).find('ETH', 31337))!.chainName).toBe('Local Anvil');

      await db.kysely.insertInto('withdrawals').values({
        id: 'wd_inflight', idempotency_key: 'k-inflight', request_hash: 'h', api_key_id: 'a', user_id: 'u', asset: 'USDT', chain_id: 31337,
        to_address: HOT2, amount: '1', fee: '0', status: 'BROADCAST', wallet: HOT1, nonce: 42, tx_hash: null, block_number: null, block_hash: null,
        confirmations: 0, failure_code: null, failure_reason: null, create_response: '{}', cancel_reason: null, requeued_at: null, created_at: 1, updated_at: 1,
      }).execute();
      const other = '0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB';
      const changed = yaml({ ...base, chainName: 'Local Anvil', contract: other }) + extra;
      const err = await refusal(changed);
      expect(err.problems).toEqual([
        'assets[1].networks[0]: changing what USDT@31337 pays with (kind, contract or decimals) while withdrawals are in flight would make the tracker look for the wrong payout (1 in flight now; wait for them or re-run with --force)',
      ]);
      const forced = await applyDeploymentConfig({ db, text: changed, force: true });
      expect(formatChanges(forced.changes)).toContain(`~ asset network USDT@31337: contract ${USDT} → ${other}`);
    });

    it('repairs a chain whose endpoints were broken by hand', async () => {
      const current = { keyRef: 'kms:alias/other', fee: '2.5', chainName: 'Local Anvil', contract: '0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB' };
      await db.kysely.updateTable('chains').set({ rpc_endpoints: 'oops' }).where('chain_id', '=', 31337).execute();
      const { changes } = await applyDeploymentConfig({ db, text: yaml(current) });
      expect(formatChanges(changes)).toContain('~ chain 31337 Local Anvil: rpc (unusable) → http://127.0.0.1:8545#2, http://127.0.0.1:8546');
      expect((await loadChainConfigs(db, DEFAULT_CHAIN_POLICY))[0]!.rpc).toHaveLength(2);
    });

    it('reads the file from disk', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-apply-'));
      try {
        const current = { keyRef: 'kms:alias/other', fee: '2.5', chainName: 'Local Anvil', contract: '0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB' };
        fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml(current));
        const { changes } = await applyDeploymentConfig({ db, file: path.join(dir, 'sluice.yaml'), dryRun: true });
        expect(summary(changes)).toBe('0 created, 0 updated, 7 unchanged');
        await expect(applyDeploymentConfig({ db, file: path.join(dir, 'nope.yaml') })).rejects.toThrow(/Cannot read deployment file .*nope\.yaml: no such file/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('lets two applies race on an empty database: one creates, the other finds it all done', async () => {
      const fresh = await createTestDatabase(kind);
      const racing = openDatabase(fresh.url, { poolSize: 4 });
      try {
        await migrateToLatest(racing);
        const results = await Promise.all([applyDeploymentConfig({ db: racing, text: yaml() }), applyDeploymentConfig({ db: racing, text: yaml() })]);
        const summaries = results.map((r) => summary(r.changes)).sort();
        expect(summaries).toEqual(['0 created, 0 updated, 7 unchanged', '7 created, 0 updated, 0 unchanged']);
        expect(await racing.kysely.selectFrom('wallets').selectAll().execute()).toHaveLength(2);
      } finally {
        await racing.close();
        await fresh.drop();
      }
    });
  });
}
