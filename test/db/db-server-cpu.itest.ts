import { createConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { databaseServerPid, MYSQL_SERVER_URL } from '../../bench/lib/database.js';
import { dbServerCpuBetween, readDbServerCpu } from '../../bench/lib/db-server-cpu.js';

/**
 * The bench's split of MariaDB's CPU by client (bench/lib/db-server-cpu.ts) against the real
 * server: work done on a connection of this process is counted for this process, not as the
 * server's own.
 */
describe('MariaDB CPU by client (bench)', () => {
  it('counts the work of this process\'s connection for this process', async () => {
    const server = databaseServerPid();
    expect(server, 'mariadbd must run on this machine (scripts/provision-test-services.sh starts it)').not.toBeNull();
    const conn = await createConnection(MYSQL_SERVER_URL);
    try {
      await conn.query('SELECT 1'); // the connection's thread exists before the first reading
      const before = await readDbServerCpu(server!, MYSQL_SERVER_URL, [process.pid]);
      // Work only the server does, on this connection's thread: a million SHA-256s of fresh input.
      await conn.query('SELECT BENCHMARK(1000000, SHA2(RAND(), 256))');
      const after = await readDbServerCpu(server!, MYSQL_SERVER_URL, [process.pid]);
      expect(before?.split && after?.split, 'MariaDB 10.5 or later gives each connection\'s thread id').toBe(true);
      const used = dbServerCpuBetween(before!, after!, [process.pid]);
      // The million hashes took this connection's thread well over 0.1 s; no more than the server used in all.
      expect(used.byClient.get(process.pid)).toBeGreaterThan(0.1);
      expect(used.byClient.get(process.pid)).toBeLessThanOrEqual(used.total + 0.02);
    } finally {
      await conn.end();
    }
  });
});
