import type { Progress, SimReport } from './run.js';

const STATUS_ORDER = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

export function formatProgress(p: Progress): string {
  const statuses = STATUS_ORDER.filter((s) => p.statuses[s]).map((s) => `${s} ${p.statuses[s]}`).join(' ');
  const chaos = Object.entries(p.chaos).map(([k, n]) => `${k} ${n}`).join(' ');
  return `[${(p.elapsedMs / 1000).toFixed(0).padStart(4)}s ${p.phase.padEnd(6)}] submitted ${p.submitted}/${p.planned} | ${statuses || '-'} | rpc faults ${p.faults} | chaos: ${chaos || '-'}`;
}

function table(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

export function formatReport(r: SimReport): string {
  const lines: string[] = [];
  lines.push('', `==== Sluice simulation SEED=${r.seed}: ${r.ok ? 'GREEN' : `${r.violations.length} VIOLATION(S)`} ====`);
  lines.push(`chaos kinds: ${r.options.chaos.join(', ') || 'none'}`);
  lines.push('', 'withdrawals by status:');
  lines.push(
    ...table([
      ...STATUS_ORDER.filter((s) => r.statusCounts[s]).map((s) => [s, String(r.statusCounts[s])] as [string, string]),
      ['expected', `COMPLETED ${r.expected.completed}, REJECTED ${r.expected.rejected}`],
    ]),
  );
  lines.push('', 'chaos events (run / skipped):');
  const kinds = [...new Set([...Object.keys(r.chaos), ...Object.keys(r.chaosSkipped)])];
  lines.push(...(kinds.length ? table(kinds.map((k) => [k, `${r.chaos[k] ?? 0} / ${r.chaosSkipped[k] ?? 0}`])) : ['  none']));
  lines.push('', 'RPC faults injected:');
  lines.push(
    ...table([
      ['failed before forwarding', String(r.faults.failBefore ?? 0)],
      ['lost response after forwarding', String(r.faults.failAfter ?? 0)],
      ['timeouts', String(r.faults.timeout ?? 0)],
      ['latency', String(r.faults.delay ?? 0)],
      ['ambiguous broadcasts', String(r.faults.lostBroadcasts ?? 0)],
      ['requests passed cleanly', String(r.faults.ok ?? 0)],
    ]),
  );
  if (r.chainStats) {
    const c = r.chainStats;
    lines.push('', 'chain:');
    lines.push(
      ...table([
        ['blocks scanned', String(c.blocksScanned)],
        ['hot-wallet txs mined', `${c.hotWalletTxs} (payouts ${c.payouts}, cancels ${c.cancels}, fills ${c.fills}, foreign ${c.foreign}, reverted ${c.reverted})`],
        ['txs signed by kind', Object.entries(c.attemptsByKind).map(([k, n]) => `${k} ${n}`).join(', ') || '-'],
      ]),
    );
  }
  lines.push('', `sluice starts: ${r.sluiceStarts}; duration ${(r.durationMs / 1000).toFixed(1)} s (submit ${(r.timings.submitMs / 1000).toFixed(1)} s, settle ${(r.timings.settleMs / 1000).toFixed(1)} s)`);
  if (r.notes.length) lines.push('', 'notes:', ...r.notes.map((n) => `  - ${n}`));
  if (!r.ok) {
    if (r.chaosLog.length) {
      lines.push('', 'chaos log:', ...r.chaosLog.map((e) => `  ${(e.atMs / 1000).toFixed(1).padStart(6)}s ${e.kind}${e.outcome === 'skipped' ? ' (skipped)' : ''}: ${e.detail}`));
    }
    lines.push('', 'VIOLATIONS:', ...r.violations.map((v) => `  ✗ ${v}`));
    lines.push('', `SEED=${r.seed}`, `reproduce: ${r.reproduce}`);
  }
  if (r.runDir) lines.push(`run dir (data dir, sluice.log, env.json, database.txt for MariaDB): ${r.runDir}`);
  return lines.join('\n');
}
