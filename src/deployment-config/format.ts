import type { Change } from './diff.js';

const SIGN = { created: '+', updated: '~', unchanged: '=' } as const;

/**
 * The diff as `sluice config apply` prints it, one line per thing the file names:
 *   + chain 31337 Anvil Devnet
 *   ~ asset network USDT@31337: withdrawalFee 1 → 2
 *   = wallet 0x…@31337 (unchanged)
 *   3 created, 1 updated, 5 unchanged
 */
export function formatChanges(changes: Change[], options: { dryRun?: boolean } = {}): string {
  const lines: string[] = [];
  for (const c of changes) {
    const head = `${SIGN[c.action]} ${c.entity} ${c.label}`;
    if (c.action === 'updated') lines.push(`${head}: ${c.fields.map((f) => `${f.field} ${f.before} → ${f.after}`).join('; ')}`);
    else if (c.action === 'unchanged') lines.push(`${head} (unchanged)`);
    else lines.push(head);
    for (const note of c.notes) lines.push(`    note: ${note}`);
  }
  const count = (a: Change['action']) => changes.filter((c) => c.action === a).length;
  const summary = `${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged`;
  lines.push(options.dryRun ? `${summary} (dry run: nothing was written)` : summary);
  return lines.join('\n');
}
