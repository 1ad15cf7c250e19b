import { X } from 'lucide-react';
import { useSearchParams } from 'react-router-dom';
import { type Page, qs } from '../api';
import { fmtTime } from '../format';
import { useApi, useCursorPager } from '../hooks';
import { Badge, Button, Card, DataTable, PageHeader, Pager } from '../ui';

type AuditItem = { id?: number; actor: string; action: string; targetType: string; targetId: string; reason: string | null; before: unknown; after: unknown; createdAt: string | number };

/** Flattens a before/after snapshot into `path: value` pairs, so a change reads as a list of fields, not JSON. */
function flatten(v: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (v === null || v === undefined) {
    if (prefix) out[prefix] = '—';
  } else if (typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(v)) {
    out[prefix] = v.map((x) => (typeof x === 'object' ? Object.values(x as object).join(' ') : String(x))).join(', ') || '—';
  } else out[prefix] = String(v);
  return out;
}

export function Changes({ before, after }: { before: unknown; after: unknown }) {
  const b = flatten(before);
  const a = flatten(after);
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => b[k] !== a[k]);
  if (keys.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="changes">
      {keys.slice(0, 6).map((k) => (
        <li key={k}>
          <span className="change-key">{k}</span> {b[k] !== undefined && <span className="change-old">{b[k]}</span>} <span className="muted">→</span> <span className="change-new">{a[k] ?? '—'}</span>
        </li>
      ))}
      {keys.length > 6 && <li className="muted">and {keys.length - 6} more</li>}
    </ul>
  );
}

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters = { actor: params.get('actor'), action: params.get('action'), targetType: params.get('targetType'), targetId: params.get('targetId') };
  const pager = useCursorPager(JSON.stringify(filters));
  const list = useApi<Page<AuditItem>>(`/audit-log${qs({ ...filters, limit: 25, cursor: pager.cursor })}`, 15_000);
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next);
  };
  return (
    <>
      <PageHeader title="Audit log" subtitle="Every write by an operator, admin or admin API key, with its reason and what it changed." />
      <Card pad={false}>
        <div className="filters">
          <input aria-label="Actor" placeholder="Actor (user:admin)" value={params.get('actor') ?? ''} onChange={(e) => set('actor', e.target.value)} />
          <input aria-label="Action" placeholder="Action (dead_letter.discard)" value={params.get('action') ?? ''} onChange={(e) => set('action', e.target.value)} />
          <input aria-label="Target type" placeholder="Target type" className="w-md" value={params.get('targetType') ?? ''} onChange={(e) => set('targetType', e.target.value)} />
          <input aria-label="Target id" placeholder="Target id" className="w-md" value={params.get('targetId') ?? ''} onChange={(e) => set('targetId', e.target.value)} />
          {[...params.keys()].length > 0 && (
            <Button variant="ghost" icon={<X size={14} />} onClick={() => setParams(new URLSearchParams())}>
              Clear
            </Button>
          )}
        </div>
        <DataTable
          testId="audit-table"
          columns={[
            { key: 'at', header: 'When', render: (e: AuditItem) => <span className="nowrap">{fmtTime(e.createdAt)}</span> },
            { key: 'actor', header: 'Actor', render: (e) => <button type="button" className="link-btn" onClick={() => set('actor', e.actor)}>{e.actor}</button> },
            { key: 'action', header: 'Action', render: (e) => <Badge tone={/discard|revoke|pause/.test(e.action) ? 'warning' : 'accent'}>{e.action}</Badge> },
            { key: 'target', header: 'Target', render: (e) => <span>{e.targetType} <code className="plain">{e.targetId}</code></span> },
            { key: 'reason', header: 'Reason', render: (e) => e.reason ?? <span className="muted">—</span> },
            { key: 'changes', header: 'Changes', render: (e) => <Changes before={e.before} after={e.after} /> },
          ]}
          rows={list.data?.items}
          loading={list.loading}
          error={list.error}
          onRetry={list.reload}
          rowKey={(e) => `${e.id ?? ''}${e.createdAt}${e.action}${e.targetId}`}
          empty="No audit entries"
          emptyHint="Every admin write shows up here."
        />
        {list.data && <Pager page={pager.page} hasPrev={pager.hasPrev} nextCursor={list.data.nextCursor} onPrev={pager.prev} onNext={pager.next} count={list.data.items.length} />}
      </Card>
    </>
  );
}
