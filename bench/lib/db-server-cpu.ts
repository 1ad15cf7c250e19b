import fs from 'node:fs';
import { createConnection } from 'mysql2/promise';
import { readCpuSeconds, readThreadCpu } from './cpu.js';

/**
 * The database server's CPU split by whose work it was. MariaDB runs each connection on a thread of
 * its own, whose OS id `information_schema.PROCESSLIST.TID` gives (MariaDB 10.5 and later) and
 * whose client is known by its port. So the signer's connections, the harness's own (its stand-in
 * for the chain), and what is left (InnoDB's purge, page cleaner and log writer, and connections
 * closed meanwhile) can be told apart, which the server's one CPU total cannot.
 */
export type DbServerCpu = {
  /** mariadbd's CPU seconds, all threads, live and exited. */
  total: number;
  /** Each live thread's CPU seconds and the client process (pid) its connection serves, 0 for none of `clients`. */
  threads: Map<number, { seconds: number; client: number }>;
  /** Whether connections could be told apart (PROCESSLIST.TID: MariaDB 10.5 and later); else only `total` means anything. */
  split: boolean;
};

const MYSQL_PORT_HEX = (3306).toString(16).toUpperCase().padStart(4, '0');

/** Local TCP ports of `pid`'s sockets connected to port 3306 (from /proc: the socket inodes of its fds, matched in /proc/net/tcp{,6}). */
function mysqlClientPorts(pid: number): Set<number> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return new Set();
  }
  for (const fd of fds) {
    try {
      const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address rem_address … inode: f[1] f[2] … f[9]
      if (f.length < 10 || !f[2]!.endsWith(`:${MYSQL_PORT_HEX}`) || !inodes.has(f[9]!)) continue;
      ports.add(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** One reading of the server's CPU by client process, for `clients` (pids) on this machine; null once the server is gone. */
export async function readDbServerCpu(serverPid: number, serverUrl: string, clients: number[]): Promise<DbServerCpu | null> {
  const conn = await createConnection(serverUrl);
  let rows: Array<{ TID: number; HOST: string }> = [];
  let split = true;
  try {
    [rows] = (await conn.query('SELECT TID, HOST FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()')) as unknown as [Array<{ TID: number; HOST: string }>];
  } catch {
    split = false; // no TID column: MySQL, or MariaDB before 10.5
  } finally {
    await conn.end();
  }
  const clientOfPort = new Map<number, number>();
  for (const pid of clients) for (const port of mysqlClientPorts(pid)) clientOfPort.set(port, pid);
  const clientOfThread = new Map<number, number>();
  for (const r of rows) {
    const port = Number(String(r.HOST).split(':').pop());
    const client = clientOfPort.get(port);
    if (client !== undefined) clientOfThread.set(Number(r.TID), client);
  }
  const total = readCpuSeconds(serverPid);
  if (total === null) return null;
  const threads = new Map<number, { seconds: number; client: number }>();
  for (const [tid, seconds] of readThreadCpu(serverPid).seconds) threads.set(tid, { seconds, client: clientOfThread.get(tid) ?? 0 });
  return { total, threads, split };
}

/**
 * CPU seconds between two readings: each client's, and the rest (server threads, connections that
 * closed meanwhile). A thread's time is its client's at the later reading: MariaDB keeps a pooled
 * connection on one thread for the connection's life, and a thread it reuses from its cache counts
 * only from the earlier reading on.
 */
export function dbServerCpuBetween(before: DbServerCpu, after: DbServerCpu, clients: number[]): { total: number; byClient: Map<number, number>; rest: number } {
  const total = after.total - before.total;
  const byClient = new Map<number, number>(clients.map((pid) => [pid, 0]));
  let attributed = 0;
  for (const [tid, now] of after.threads) {
    if (!byClient.has(now.client)) continue;
    const used = Math.max(0, now.seconds - (before.threads.get(tid)?.seconds ?? 0));
    byClient.set(now.client, byClient.get(now.client)! + used);
    attributed += used;
  }
  return { total, byClient, rest: Math.max(0, total - attributed) };
}
