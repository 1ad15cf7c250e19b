import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteConnection } from './sqlite-connection.js';

describe('SQLite connection settings', () => {
  it('WAL with a full fsync per commit (a 202 survives power loss), and checkpoints every 1,000 pages with the file cut back to 64 MB', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pragmas-'));
    const db = openSqliteConnection(path.join(dir, 'sluice.db'));
    try {
      const sqlite = db.sqlite!;
      expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(sqlite.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
      expect(sqlite.pragma('journal_size_limit', { simple: true })).toBe(64 * 1024 * 1024);
      expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(sqlite.pragma('temp_store', { simple: true })).toBe(0); // the build's default: sorts may spill to disk
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the write worker\'s connection keeps statement journals (and temp data) in memory', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pragmas-'));
    const db = openSqliteConnection(path.join(dir, 'sluice.db'), { writer: true });
    try {
      expect(db.sqlite!.pragma('temp_store', { simple: true })).toBe(2); // MEMORY
      expect(db.sqlite!.pragma('synchronous', { simple: true })).toBe(2);
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
