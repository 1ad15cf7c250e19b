/** Display helpers. Times arrive as epoch ms or ISO strings (docs/admin-api-deviations.md §1). */

export function toDate(t: string | number | null | undefined): Date | null {
  if (t === null || t === undefined || t === '') return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n: number) => String(n).padStart(2, '0');

export function fmtTime(t: string | number | null | undefined): string {
  const d = toDate(t);
  if (!d) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}\u00a0${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtClock(t: number): string {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fmtAgo(t: string | number | null | undefined, now = Date.now()): string {
  const d = toDate(t);
  if (!d) return '—';
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** Wei (decimal string) as gwei, without going through JS numbers for the integer part. */
export function weiToGwei(wei: string | null | undefined): string {
  if (!wei) return '—';
  try {
    const v = BigInt(wei);
    const whole = v / 1_000_000_000n;
    const frac = (v % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '').slice(0, 3);
    return frac ? `${whole}.${frac}` : whole.toString();
  } catch {
    return wei;
  }
}

export function shortHash(h: string, lead = 10, tail = 6): string {
  return h.length > lead + tail + 1 ? `${h.slice(0, lead)}…${h.slice(-tail)}` : h;
}

/** Labels for machine codes: `fee_cap_reached` → "fee cap reached". */
export function humanize(code: string | null | undefined): string {
  if (!code) return '—';
  return code.replace(/[_.]/g, ' ');
}

/** A decimal string cut (not rounded) to `dp` decimals for display; the full value goes in a title. */
export function fmtAmount(v: string, dp = 6): string {
  const [whole, frac = ''] = v.split('.');
  const cut = frac.slice(0, dp).replace(/0+$/, '');
  const grouped = (whole ?? '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return cut ? `${grouped}.${cut}${frac.length > dp ? '…' : ''}` : grouped;
}
