/** What a free-text search means: a tx hash, an address, a withdrawal id, or else a user id. */
export function classifySearch(q: string): { key: 'txHash' | 'toAddress' | 'id' | 'userId'; label: string } | null {
  const s = q.trim();
  if (!s) return null;
  if (/^0x[0-9a-fA-F]{64}$/.test(s)) return { key: 'txHash', label: 'transaction hash' };
  if (/^0x[0-9a-fA-F]{40}$/.test(s)) return { key: 'toAddress', label: 'destination address' };
  if (/^wd_/.test(s)) return { key: 'id', label: 'withdrawal id' };
  return { key: 'userId', label: 'user id' };
}
