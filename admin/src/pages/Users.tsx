import { Search } from 'lucide-react';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { qs } from '../api';
import { fmtTime, humanize } from '../format';
import { useApi, useCursorPager } from '../hooks';
import { Badge, Button, Card, DataTable, EmptyState, ErrorState, PageHeader, Pager, Spinner } from '../ui';

type LedgerItem = { id: string | number; asset: string; kind: string; account?: string; amount: string; reference: string; withdrawalId: string | null; createdAt: number };
type UserView = { userId: string; balances: { asset: string; available: string; held: string }[]; ledger: { items: LedgerItem[]; nextCursor: string | null } };

export function UsersPage() {
  const { userId } = useParams();
  const navigate = useNavigate();
  const [input, setInput] = useState(userId ?? '');
  useEffect(() => setInput(userId ?? ''), [userId]);
  const pager = useCursorPager(userId ?? '');
  const view = useApi<UserView>(userId ? `/users/${encodeURIComponent(userId)}${qs({ cursor: pager.cursor, limit: 25 })}` : null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (input.trim()) navigate(`/users/${encodeURIComponent(input.trim())}`);
  };
  return (
    <>
      <PageHeader title="Users" subtitle="A user's balances and every ledger entry booked for them." />
      <Card>
        <form className="filters filters-flat" onSubmit={submit} role="search">
          <div className="search-box">
            <Search size={15} className="muted" />
            <input aria-label="User id" placeholder="User id, e.g. alice" value={input} onChange={(e) => setInput(e.target.value)} />
          </div>
          <Button type="submit" variant="primary">
            Look up
          </Button>
        </form>
      </Card>
      {!userId && <EmptyState title="Look up a user">Enter the user id your platform uses in its API calls.</EmptyState>}
      {userId && view.error && !view.data && (view.error.status === 404 ? <EmptyState title={`No user "${userId}"`}>Nobody with this id has a balance or a ledger entry.</EmptyState> : <ErrorState error={view.error} onRetry={view.reload} />)}
      {userId && !view.data && !view.error && <Spinner />}
      {view.data && (
        <>
          <div className="balance-cards" data-testid="user-balances">
            {view.data.balances.map((b) => (
              <div key={b.asset} className="balance-card" data-asset={b.asset}>
                <div className="balance-card-asset">{b.asset}</div>
                <div className="balance-card-row">
                  <span className="muted">Available</span>
                  <span className="num big">{b.available}</span>
                </div>
                <div className="balance-card-row">
                  <span className="muted">Held</span>
                  <span className={`num ${b.held !== '0' ? 'warn-text' : ''}`} data-testid={`held-${b.asset}`}>
                    {b.held}
                  </span>
                </div>
              </div>
            ))}
            {view.data.balances.length === 0 && <EmptyState title="No balances" />}
          </div>
          <Card title={`Ledger of ${view.data.userId}`} pad={false}>
            <DataTable
              testId="user-ledger"
              columns={[
                { key: 'at', header: 'At', render: (e: LedgerItem) => <span className="nowrap">{fmtTime(e.createdAt)}</span> },
                { key: 'asset', header: 'Asset', render: (e) => e.asset },
                { key: 'kind', header: 'Entry', render: (e) => <Badge tone={e.kind.includes('credit') ? 'success' : e.kind.includes('hold') ? 'warning' : e.kind.includes('release') ? 'info' : 'neutral'}>{humanize(e.kind)}</Badge> },
                { key: 'account', header: 'Account', render: (e) => e.account ?? '—' },
                { key: 'amount', header: 'Amount', align: 'right', render: (e) => <span className={`num ${e.amount.startsWith('-') ? 'neg' : 'pos'}`}>{e.amount}</span> },
                { key: 'ref', header: 'Reference', render: (e) => <code className="plain">{e.reference}</code> },
                { key: 'wd', header: 'Withdrawal', render: (e) => (e.withdrawalId ? <Link to={`/withdrawals/${e.withdrawalId}`} className="mono-link">{e.withdrawalId}</Link> : <span className="muted">—</span>) },
              ]}
              rows={view.data.ledger.items}
              loading={view.loading}
              rowKey={(e) => String(e.id)}
              empty="No ledger entries"
            />
            <Pager page={pager.page} hasPrev={pager.hasPrev} nextCursor={view.data.ledger.nextCursor} onPrev={pager.prev} onNext={pager.next} count={view.data.ledger.items.length} />
          </Card>
        </>
      )}
    </>
  );
}
