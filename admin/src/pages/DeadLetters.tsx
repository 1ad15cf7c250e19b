import { ArrowLeft, RotateCcw, Trash2 } from 'lucide-react';
import { useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { api, type Attempt, type Page, qs, type Withdrawal } from '../api';
import { fmtAgo, fmtTime, humanize, weiToGwei } from '../format';
import { useApi, useCursorPager } from '../hooks';
import { useCan } from '../session';
import { Badge, Button, Callout, Card, type Column, ConfirmDialog, DataTable, ErrorState, Hash, KeyValue, PageHeader, Pager, Segmented, Spinner, StatusBadge, useToast } from '../ui';

type Letter = {
  id: number;
  queue: 'invalid' | 'tx';
  withdrawalId: string;
  code: string;
  reason: string;
  attempts: number;
  status: 'open' | 'retried' | 'discarded';
  payload: Record<string, unknown>;
  resolvedBy: string | null;
  resolutionReason: string | null;
  resolvedAt: string | null;
  createdAt: string;
  withdrawalStatus?: string | null;
};

const QUEUE_LABEL = { invalid: 'Invalid DLQ', tx: 'TX DLQ' } as const;

export function DeadLettersPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const queue = (params.get('queue') ?? 'all') as 'all' | 'invalid' | 'tx';
  const status = (params.get('status') ?? 'open') as 'open' | 'retried' | 'discarded' | 'all';
  const pager = useCursorPager(`${queue}:${status}`);
  const list = useApi<Page<Letter>>(`/dead-letters${qs({ queue: queue === 'all' ? undefined : queue, status: status === 'all' ? undefined : status, limit: 25, cursor: pager.cursor })}`, 10_000);
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    next.set(k, v);
    setParams(next);
  };
  const columns: Column<Letter>[] = [
    { key: 'id', header: '#', render: (l) => <Link to={`/dead-letters/${l.id}`} onClick={(e) => e.stopPropagation()}>#{l.id}</Link> },
    { key: 'queue', header: 'Queue', render: (l) => <Badge tone={l.queue === 'tx' ? 'accent' : 'neutral'}>{QUEUE_LABEL[l.queue]}</Badge> },
    { key: 'status', header: 'Letter', render: (l) => <StatusBadge status={l.status} /> },
    { key: 'code', header: 'Why', render: (l) => <span><strong>{humanize(l.code)}</strong> <span className="muted clamp">{l.reason}</span></span> },
    { key: 'wd', header: 'Withdrawal', render: (l) => <Link to={`/withdrawals/${l.withdrawalId}`} className="mono-link" onClick={(e) => e.stopPropagation()}>{l.withdrawalId}</Link> },
    { key: 'ws', header: 'Withdrawal status', render: (l) => <StatusBadge status={l.withdrawalStatus} /> },
    { key: 'at', header: 'Since', render: (l) => <span title={fmtTime(l.createdAt)}>{fmtAgo(l.createdAt)}</span> },
  ];
  return (
    <>
      <PageHeader title="Dead letters" subtitle="What the signer refused (Invalid DLQ) and what a node refused for good (TX DLQ). Each waits for an operator to retry or discard it." />
      <Card pad={false}>
        <div className="filters">
          <Segmented label="Queue" value={queue} onChange={(v) => set('queue', v)} options={[{ value: 'all', label: 'All queues' }, { value: 'invalid', label: 'Invalid DLQ' }, { value: 'tx', label: 'TX DLQ' }]} />
          <Segmented label="Letter status" value={status} onChange={(v) => set('status', v)} options={[{ value: 'open', label: 'Open' }, { value: 'retried', label: 'Retried' }, { value: 'discarded', label: 'Discarded' }, { value: 'all', label: 'All' }]} />
        </div>
        <DataTable
          testId="dead-letters-table"
          columns={columns}
          rows={list.data?.items}
          loading={list.loading}
          error={list.error}
          onRetry={list.reload}
          rowKey={(l) => String(l.id)}
          onRowClick={(l) => navigate(`/dead-letters/${l.id}`)}
          empty={status === 'open' ? 'No open dead letters' : 'No dead letters'}
          emptyHint={status === 'open' ? 'Everything the pipeline refused has been handled.' : undefined}
        />
        {list.data && <Pager page={pager.page} hasPrev={pager.hasPrev} nextCursor={list.data.nextCursor} onPrev={pager.prev} onNext={pager.next} count={list.data.items.length} />}
      </Card>
    </>
  );
}

type LetterDetail = { letter: Letter; withdrawal: (Withdrawal & { cancelReason?: string | null }) | null; attempts: Attempt[]; consequences?: { retry: string; discard: string } };

/** The server's own preview when it gives one (it says "not possible"/"not yet" for a refused action). */
function consequenceOf(d: LetterDetail, action: 'retry' | 'discard'): { text: string; allowed: boolean } {
  const text = d.consequences?.[action];
  if (text) return { text: text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith('.') ? '' : '.'), allowed: !/^not (possible|yet)/.test(text) };
  return predictConsequence(d, action);
}

/**
 * What retry and discard would do, from the withdrawal's state (README "Admin API: dead letters"),
 * for a server that does not send its own preview. The server re-checks and answers with what it
 * actually did.
 */
export function predictConsequence(d: LetterDetail, action: 'retry' | 'discard'): { text: string; allowed: boolean } {
  const w = d.withdrawal;
  if (!w) return { text: 'The withdrawal is gone; the letter can only be discarded.', allowed: action === 'discard' };
  const hold = `${w.amount} ${w.asset} + ${w.fee} fee`;
  const cancelling = !!w.cancelReason || d.attempts.some((a) => a.kind === 'cancel');
  switch (w.status) {
    case 'RECEIVED':
      return action === 'retry'
        ? { text: 'Queued for signing again: every check runs again, and the balance is held only when it is signed. No nonce is reserved yet.', allowed: true }
        : { text: `The withdrawal becomes CANCELLED (failure code "discarded", the reason as its failure reason). Nothing is held and no nonce was reserved, so nothing is released or filled.`, allowed: true };
    case 'SIGNED':
    case 'BROADCAST':
      if (action === 'retry')
        return cancelling
          ? { text: `The cancel at nonce ${w.nonce} is called off and the payout is re-signed over it with the asset's current settings. The hold (${hold}) stays until one of them is mined: the payout pays, the cancel releases it.`, allowed: true }
          : { text: `The newest signed transaction at nonce ${w.nonce} is broadcast again (same bytes). The hold (${hold}) stays until it settles.`, allowed: true };
      return { text: `Nonce ${w.nonce} of wallet ${w.wallet ?? '—'} is filled with a cancel (a 0-value self-transfer). The hold (${hold}) is released when the cancel is mined; if the payout mines first it completes instead. Refused if a transaction of it is already mined.`, allowed: true };
    case 'CONFIRMING':
      return { text: 'Its transaction is already mined: it settles as mined, so neither retry nor discard applies.', allowed: false };
    default:
      return action === 'retry'
        ? { text: `The withdrawal already ended ${w.status}; it cannot be retried.`, allowed: false }
        : { text: `The withdrawal already ended ${w.status}: the letter is closed and nothing else changes (no hold is left; no nonce to fill).`, allowed: true };
  }
}

export function DeadLetterPage() {
  const { id = '' } = useParams();
  const d = useApi<LetterDetail>(`/dead-letters/${id}`, 5000);
  const canAct = useCan('operator');
  const toast = useToast();
  const [action, setAction] = useState<'retry' | 'discard' | null>(null);
  const back = (
    <Link to="/dead-letters" className="back-link">
      <ArrowLeft size={14} /> Dead letters
    </Link>
  );
  if (d.error && !d.data) return <>{back}<ErrorState error={d.error} onRetry={d.reload} /></>;
  if (!d.data) return <>{back}<Spinner /></>;
  const { letter, withdrawal: w, attempts } = d.data;
  const retry = consequenceOf(d.data, 'retry');
  const discard = consequenceOf(d.data, 'discard');
  const payload = Object.entries(letter.payload ?? {}).filter(([, v]) => v !== null && typeof v !== 'object');

  return (
    <>
      {back}
      <PageHeader
        title={`Dead letter #${letter.id}`}
        subtitle={
          <span className="header-meta">
            <Badge tone={letter.queue === 'tx' ? 'accent' : 'neutral'}>{QUEUE_LABEL[letter.queue]}</Badge> <StatusBadge status={letter.status} /> since {fmtTime(letter.createdAt)}
          </span>
        }
        actions={
          canAct && letter.status === 'open' ? (
            <>
              <Button icon={<RotateCcw size={14} />} disabled={!retry.allowed} onClick={() => setAction('retry')} title={retry.allowed ? undefined : retry.text}>
                Retry
              </Button>
              <Button variant="danger" icon={<Trash2 size={14} />} disabled={!discard.allowed} onClick={() => setAction('discard')}>
                Discard
              </Button>
            </>
          ) : undefined
        }
      />
      <Callout tone={letter.status === 'open' ? 'danger' : 'info'} title={humanize(letter.code)}>
        {letter.reason}
      </Callout>
      <div className="grid-detail">
        <Card title="Letter">
          <KeyValue
            items={[
              ['Queue', QUEUE_LABEL[letter.queue]],
              ['Status', <StatusBadge status={letter.status} />],
              ['Deliveries', letter.attempts],
              ['Recorded', fmtTime(letter.createdAt)],
              ...(letter.resolvedAt ? ([['Resolved', `${fmtTime(letter.resolvedAt)} by ${letter.resolvedBy ?? '—'}`], ['Resolution reason', letter.resolutionReason ?? '—']] as [string, string][]) : []),
              ...payload.map(([k, v]) => [humanize(k), String(v)] as [string, string]),
            ]}
          />
        </Card>
        <Card title="Withdrawal">
          {w ? (
            <KeyValue
              items={[
                ['Id', <Link to={`/withdrawals/${w.id}`} className="mono-link">{w.id}</Link>],
                ['Status', <span data-testid="letter-withdrawal-status"><StatusBadge status={w.status} /></span>],
                ['User', <Link to={`/users/${encodeURIComponent(w.userId)}`}>{w.userId}</Link>],
                ['Amount', `${w.amount} ${w.asset} (+ ${w.fee} fee)`],
                ['To', <Hash value={w.toAddress} />],
                ['Wallet / nonce', w.wallet ? <span><Hash value={w.wallet} /> · {w.nonce ?? '—'}</span> : '—'],
                ['Failure', w.failureCode ? `${humanize(w.failureCode)}${w.failureReason ? ` — ${w.failureReason}` : ''}` : '—'],
                ...(w.cancelReason ? ([['Cancel reason', w.cancelReason]] as [string, string][]) : []),
              ]}
            />
          ) : (
            <span className="muted">The withdrawal no longer exists.</span>
          )}
        </Card>
      </div>
      {letter.status === 'open' && (
        <Card title="What an operator can do">
          <div className="consequences">
            <div>
              <h3>Retry</h3>
              <p className={retry.allowed ? '' : 'muted'}>{retry.text}</p>
            </div>
            <div>
              <h3>Discard</h3>
              <p className={discard.allowed ? '' : 'muted'}>{discard.text}</p>
            </div>
          </div>
        </Card>
      )}
      {attempts.length > 0 && (
        <Card title="Transactions signed for it" pad={false}>
          <DataTable
            columns={[
              { key: 'kind', header: 'Kind', render: (a: Attempt) => <Badge tone={a.kind === 'cancel' ? 'warning' : 'neutral'}>{a.kind}</Badge> },
              { key: 'hash', header: 'Tx hash', render: (a) => <Hash value={a.txHash} /> },
              { key: 'nonce', header: 'Nonce', align: 'right', render: (a) => a.nonce },
              { key: 'fee', header: 'Max fee (gwei)', align: 'right', render: (a) => weiToGwei(a.maxFeePerGas) },
              { key: 'err', header: 'Node error', render: (a) => (a.lastError ? <span className="error-text">{a.lastError}</span> : '—') },
            ]}
            rows={attempts}
            rowKey={(a) => a.txHash}
          />
        </Card>
      )}
      {action && (
        <ConfirmDialog
          title={action === 'retry' ? `Retry dead letter #${letter.id}` : `Discard dead letter #${letter.id}`}
          consequence={action === 'retry' ? retry.text : discard.text}
          confirmLabel={action === 'retry' ? 'Retry' : 'Discard'}
          tone={action === 'discard' ? 'danger' : 'primary'}
          reasonRequired={action === 'discard'}
          onClose={() => setAction(null)}
          onConfirm={async (reason) => {
            const res = await api<{ action: string; consequence: string }>('POST', `/dead-letters/${letter.id}/${action}`, action === 'retry' && !reason ? {} : { reason });
            toast('success', `${action === 'retry' ? 'Retried' : 'Discarded'}: ${res.consequence}`);
            setAction(null);
            d.reload();
          }}
        />
      )}
    </>
  );
}
