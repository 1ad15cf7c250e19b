import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AnvilHandle, startAnvil } from '../../src/chain/anvil.js';
import { type SluiceChild, spawnSluice } from '../support/child.js';
import { waitFor } from '../support/stack.js';

/** What a developer sees: `sluice dev` with pretty logs prints the banner first, then one readable line per log entry. */
describe('sluice dev log output', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-devlogs-'));
  let anvil: AnvilHandle | undefined;
  let sluice: SluiceChild | undefined;

  afterAll(async () => {
    if (sluice) {
      sluice.process.kill('SIGTERM');
      await sluice.exited;
    }
    await anvil?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('SLUICE_LOG_FORMAT=pretty: startup logs come below the banner, one human line each, no JSON', async () => {
    anvil = await startAnvil({ blockTime: 1, silent: true });
    sluice = spawnSluice(['dev'], { SLUICE_DATA_DIR: dir, SLUICE_PORT: '0', SLUICE_DEVNET_RPC_URL: anvil.rpcUrl, SLUICE_LOG_FORMAT: 'pretty' });
    const output = await waitFor('the API to log that it listens', async () => (/\[api\] Server listening/.test(sluice!.output()) ? sluice!.output() : undefined), 60_000, 200);
    const banner = output.indexOf('Sluice dev is running');
    const migrated = output.indexOf('INFO  database migrated');
    expect(banner).toBeGreaterThan(-1);
    expect(migrated).toBeGreaterThan(banner); // logged before the banner was printed, shown after it
    const logLines = output.split('\n').filter((l) => /^\d\d:\d\d:\d\d (INFO |WARN |ERROR|DEBUG)/.test(l));
    expect(logLines.length).toBeGreaterThanOrEqual(3);
    expect(logLines.some((l) => / created hot wallet chainId=\d+ wallet=0x[0-9a-fA-F]{40}$/.test(l))).toBe(true);
    expect(output.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
  });
});
