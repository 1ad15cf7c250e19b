import { describe, expect, it } from 'vitest';
import { insertChunks } from './insert-chunks.js';

describe('insertChunks', () => {
  it('splits into power-of-two sizes, largest first, keeping every row once and in order', () => {
    for (const n of [0, 1, 2, 3, 7, 255, 256, 257, 300, 1000]) {
      const rows = Array.from({ length: n }, (_, i) => i);
      const chunks = insertChunks(rows);
      expect(chunks.flat()).toEqual(rows);
      for (const c of chunks) expect(c.length & (c.length - 1)).toBe(0); // a power of two
      expect(chunks.every((c) => c.length <= 256)).toBe(true);
      expect(chunks.map((c) => c.length)).toEqual([...chunks.map((c) => c.length)].sort((a, b) => b - a));
    }
    expect(insertChunks(Array.from({ length: 300 }, () => 0)).map((c) => c.length)).toEqual([256, 32, 8, 4]);
  });
});
