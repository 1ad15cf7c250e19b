import { ArrowLeft, Search, X } from 'lucide-react';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { type Attempt, qs, STATUSES, type Withdrawal, type Page } from '../api';
import { fmtAgo, fmtTime, humanize, weiToGwei } from '../format';
import { useApi, useCursorPager } from '../hooks';
import { classifySearch } from '../search';
import { Badge, Button, Callout, Card, type Column, DataTable, EmptyState, ErrorState, Hash, KeyValue, PageHeader, Pager, Spinner, StatusBadge } from '../ui';

const toLocalInput = (ms: string | null) => {
  if (!ms) return '';
  const d = new Date(Number(ms));
  const off = d.getTimezoneOffset() * 60_000;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
};

export function WithdrawalsPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const [search, setSearch] = useState(params.get('q') ?? '');
  const q = params.get('q') ?? '';
  const kind = classifySearch(q);
  const filters = {
    ...(kind ? { [kind.key]: q.trim() } : {}),
    status: params.get('status'),
    asset: params.get('asset'),
    chainId: params.get('chainId'),
    from: params.get('from'),
    to: params.get('to'),
  };
  const filterKey = JSON.stringify(filters);
  const pager = useCursorPager(filterKey);
  const list = useApi<Page<Withdrawal>>(`/withdrawals${qs({ ...filters, limit: 25, cursor: pager.cursor })}`, 10_000);

  useEffect(() => setSearch(q), [q]);

  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    set('q', search.trim());
  };
  const active = [...params.keys()].length > 0;

  const columns: Column<Withdrawal>[] = [
    { key: 'id', header: 'Withdrawal', render: (w) => <Link to={`/withdrawals/${w.id}`} className="mono-link" onClick={(e) => e.stopPropagation()}>{w.id}</Link> },
    { key: 'status', header: 'Status', render: (w) => <StatusCell w={w} /> },
    { key: 'user', header: 'User', render: (w) => <Link to={`/users/${encodeURIComponent(w.userId)}`} onClick={(e) => e.stopPropagation()}>{w.userId}</Link> },
    { key: 'amount', header: 'Amount', align: 'right', render: (w) => <span className="num">{w.amount} <span className="muted">{w.asset}</span></span> },
    { key: 'chain', header: 'Chain', render: (w) => <span className="muted">{w.chainId}</span> },
    { key: 'to', header: 'To', render: (w) => <Hash value={w.toAddress} /> },
    { key: 'tx', header: 'Tx hash', render: (w) => <Hash value={w.txHash} /> },
    { key: 'created', header: 'Requested', render: (w) => <span title={fmtTime(w.createdAt)}>{fmtAgo(w.createdAt)}</span> },
  ];

  return (
    <>
      <PageHeader title="Withdrawals" subtitle="Every request, newest first. Search by withdrawal id, user, destination address or transaction hash." />
      <Card pad={false}>
        <form className="filters filters-stack" onSubmit={submit} role="search">
          <div className="filters-row">
            <div className="search-box">
              <Search size={15} className="muted" />
              <input aria-label="Search withdrawals" placeholder="wd_…, user id, 0x address or tx hash" value={search} onChange={(e) => setSearch(e.target.value)} />
              {kind && <Badge tone="accent">{kind.label}</Badge>}
            </div>
            <Button type="submit" variant="primary" icon={<Search size={14} />}>
              Search
            </Button>
          </div>
          <div className="filters-row">
            <select aria-label="Status" value={params.get('status') ?? ''} onChange={(e) => set('status', e.target.value)}>
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
            <input aria-label="Asset" placeholder="Asset" className="w-sm" value={params.get('asset') ?? ''} onChange={(e) => set('asset', e.target.value.toUpperCase())} />
            <input aria-label="Chain id" placeholder="Chain id" className="w-sm" inputMode="numeric" value={params.get('chainId') ?? ''} onChange={(e) => set('chainId', e.target.value.replace(/\D/g, ''))} />
            <label className="inline-label">
              From
              <input type="datetime-local" aria-label="From" value={toLocalInput(params.get('from'))} onChange={(e) => set('from', e.target.value ? String(new Date(e.target.value).getTime()) : '')} />
            </label>
            <label className="inline-label">
              To
              <input type="datetime-local" aria-label="To" value={toLocalInput(params.get('to'))} onChange={(e) => set('to', e.target.value ? String(new Date(e.target.value).getTime()) : '')} />
            </label>
            {active && (
              <Button variant="ghost" icon={<X size={14} />} onClick={() => setParams(new URLSearchParams())}>
                Clear
              </Button>
            )}
          </div>
        </form>
        <DataTable
          testId="withdrawals-table"
          columns={columns}
          rows={list.data?.items}
          loading={list.loading}
          error={list.error}
          onRetry={list.reload}
          rowKey={(w) => w.id}
          onRowClick={(w) => navigate(`/withdrawals/${w.id}`)}
          empty={active ? 'No withdrawal matches' : 'No withdrawals yet'}
          emptyHint={active ? 'Try fewer filters.' : 'Requests sent to POST /v1/withdrawals show up here.'}
        />
        {list.data && <Pager page={pager.page} hasPrev={pager.hasPrev} nextCursor={list.data.nextCursor} onPrev={pager.prev} onNext={pager.next} count={list.data.items.length} />}
      </Card>
    </>
  );
}

function StatusCell({ w }: { w: Withdrawal }) {
  return (
    <span className="status-cell">
      <StatusBadge status={w.status} />
      {w.failureCode && !['COMPLETED'].includes(w.status) && <span className={`reason ${['REJECTED', 'FAILED', 'CANCELLED'].includes(w.status) ? 'reason-bad' : 'reason-wait'}`}>{humanize(w.failureCode)}</span>}
    </span>
  );
}

type Detail = {
  withdrawal: Withdrawal;
  events: { fromStatus: string | null; toStatus: string; code: string | null; detail: string | null; createdAt: number }[];
  attempts: Attempt[];
  ledgerEntries: { kind: string; account?: string; amount: string; createdAt: number; reference: string }[];
  explorer: { txUrlTemplate: string | null };
};

export function WithdrawalPage() {
  const { id = '' } = useParams();
  const d = useApi<Detail>(`/withdrawals/${encodeURIComponent(id)}`, 5000);
  const back = (
    <Link to="/withdrawals" className="back-link">
      <ArrowLeft size={14} /> Withdrawals
    </Link>
  );
  if (d.error && !d.data) return <>{back}<ErrorState error={d.error} onRetry={d.reload} /></>;
  if (!d.data) return <>{back}<Spinner /></>;
  const { withdrawal: w, events, attempts, ledgerEntries, explorer } = d.data;
  const txUrl = (h: string | null) => (h && explorer.txUrlTemplate ? explorer.txUrlTemplate.replace('{hash}', h) : null);
  const terminal = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'].includes(w.status);
  return (
    <>
      {back}
      <PageHeader
        title={`${w.amount} ${w.asset}`}
        subtitle={
          <span className="header-meta">
            <StatusBadge status={w.status} /> <code className="plain">{w.id}</code> · user <Link to={`/users/${encodeURIComponent(w.userId)}`}>{w.userId}</Link> · chain {w.chainId}
          </span>
        }
      />
      {w.failureCode && (
        <Callout tone={terminal ? 'danger' : 'warning'} title={terminal ? `Ended: ${humanize(w.failureCode)}` : `Waiting: ${humanize(w.failureCode)}`}>
          {w.failureReason ?? (w.failureCode === 'paused' ? 'Withdrawals on this network are paused; this one is signed as soon as it is resumed.' : '—')}
        </Callout>
      )}
      <div className="grid-detail">
        <Card title="Details">
          <KeyValue
            items={[
              ['Status', <StatusBadge status={w.status} />],
              ['Amount', <span className="num">{w.amount} {w.asset}</span>],
              ['Fee', <span className="num">{w.fee} {w.asset}</span>],
              ['To', <Hash value={w.toAddress} full />],
              ['Tx hash', <span data-testid="detail-tx-hash"><Hash value={w.txHash} full href={txUrl(w.txHash)} /></span>],
              ['Confirmations', w.confirmations ?? '—'],
              ['Hot wallet', <Hash value={w.wallet} />],
              ['Nonce', w.nonce ?? '—'],
              ['Requested', fmtTime(w.createdAt)],
              ['Updated', fmtTime(w.updatedAt)],
            ]}
          />
        </Card>
        <Card title="Timeline">
          {events.length === 0 ? (
            <EmptyState title="No state changes yet" />
          ) : (
            <ol className="timeline" data-testid="timeline">
              {events.map((e, i) => (
                <li key={i} className={`tl-item tl-${e.toStatus}`}>
                  <div className="tl-dot" />
                  <div className="tl-body">
                    <div className="tl-head">
                      {e.fromStatus && (
                        <>
                          <StatusBadge status={e.fromStatus} /> <span className="muted">→</span>{' '}
                        </>
                      )}
                      <StatusBadge status={e.toStatus} />
                      <span className="tl-time">{fmtTime(e.createdAt)}</span>
                    </div>
                    {(e.code || e.detail) && (
                      <div className="tl-cause">
                        {e.code && <Badge>{humanize(e.code)}</Badge>} {e.detail}
                      </div>
                    )}
                  </div>
                </li>
              ))}
            </ol>
          )}
        </Card>
      </div>
      <Card title={`Transaction attempts (${attempts.length})`} pad={false}>
        <DataTable
          testId="attempts-table"
          columns={[
            { key: 'kind', header: 'Kind', render: (a: Attempt) => <Badge tone={a.kind === 'cancel' || a.kind === 'fill' ? 'warning' : a.kind === 'bump' ? 'accent' : 'neutral'}>{a.kind}</Badge> },
            { key: 'hash', header: 'Tx hash', render: (a) => <Hash value={a.txHash} href={txUrl(a.txHash)} /> },
            { key: 'nonce', header: 'Nonce', align: 'right', render: (a) => a.nonce },
            { key: 'fee', header: 'Max fee / tip (gwei)', align: 'right', render: (a) => <span className="num">{weiToGwei(a.maxFeePerGas)} / {weiToGwei(a.maxPriorityFeePerGas)}</span> },
            { key: 'gas', header: 'Gas limit', align: 'right', render: (a) => <span className="num">{a.gasLimit}</span> },
            { key: 'sent', header: 'Broadcasts', align: 'right', render: (a) => a.broadcastCount },
            { key: 'last', header: 'Last sent', render: (a) => <span className="nowrap">{fmtTime(a.lastBroadcastAt ?? a.broadcastAt)}</span> },
            { key: 'err', header: 'Node error', render: (a) => (a.lastError ? <span className="error-text">{a.lastError}</span> : <span className="muted">—</span>) },
          ]}
          rows={attempts}
          rowKey={(a) => a.txHash}
          empty="Not signed yet"
        />
      </Card>
      <Card title="Ledger entries" pad={false}>
        <DataTable
          testId="ledger-table"
          columns={[
            { key: 'kind', header: 'Entry', render: (e: Detail['ledgerEntries'][number]) => <Badge tone={e.kind.includes('release') ? 'info' : e.kind.includes('hold') ? 'warning' : 'neutral'}>{humanize(e.kind)}</Badge> },
            { key: 'account', header: 'Account', render: (e) => e.account ?? '—' },
            { key: 'amount', header: 'Amount', align: 'right', render: (e) => <span className={`num ${e.amount.startsWith('-') ? 'neg' : 'pos'}`}>{e.amount} {w.asset}</span> },
            { key: 'ref', header: 'Reference', render: (e) => <code className="plain">{e.reference}</code> },
            { key: 'at', header: 'At', render: (e) => <span className="nowrap">{fmtTime(e.createdAt)}</span> },
          ]}
          rows={ledgerEntries}
          rowKey={(e) => `${e.reference}:${e.kind}:${e.account}:${e.createdAt}`}
          empty="Nothing booked yet"
          emptyHint="The balance is held when the withdrawal is signed."
        />
      </Card>
    </>
  );
}
