import { AlertTriangle } from 'lucide-react';
import { fmtAmount } from '../format';
import { useApi } from '../hooks';
import { Badge, Card, EmptyState, ErrorState, Hash, KeyValue, PageHeader, Spinner } from '../ui';

type WalletItem = {
  chainId: number;
  chainName: string;
  address: string;
  keyScheme: string;
  enabled: boolean;
  native: { symbol: string; balance: string } | null;
  tokens: { asset: string; balance: string }[];
  dbNextNonce: number | null;
  chainNonceLatest: number | null;
  chainNoncePending: number | null;
  pendingCount: number;
  lowBalance: boolean;
  lowBalanceReason: string | null;
  error?: string;
};

function nonceVerdict(w: WalletItem): { tone: 'success' | 'info' | 'warning' | 'danger'; label: string } {
  if (w.chainNonceLatest === null || w.dbNextNonce === null) return { tone: 'warning', label: 'unknown' };
  if (w.dbNextNonce === w.chainNonceLatest && w.chainNoncePending === w.chainNonceLatest) return { tone: 'success', label: 'in step' };
  if (w.chainNonceLatest > w.dbNextNonce) return { tone: 'danger', label: 'chain ahead' };
  if (w.pendingCount > 0) return { tone: 'info', label: 'in flight' };
  return { tone: 'warning', label: 'gap' };
}

export function WalletsPage() {
  const list = useApi<{ items: WalletItem[] }>('/wallets', 15_000);
  return (
    <>
      <PageHeader title="Hot wallets" subtitle="On-chain balances and nonces, read live from the chain; refreshes every 15 s." />
      {list.error && !list.data && <ErrorState error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error && <Spinner />}
      {list.data && list.data.items.length === 0 && <EmptyState title="No hot wallets" >Add one with `sluice wallet create` and `sluice config apply`.</EmptyState>}
      <div className="wallet-grid" data-testid="wallets">
        {list.data?.items.map((w) => {
          const v = nonceVerdict(w);
          return (
            <Card
              key={`${w.chainId}:${w.address}`}
              className={w.lowBalance ? 'card-warning' : ''}
              title={
                <span className="wallet-title">
                  <Hash value={w.address} />
                </span>
              }
              actions={
                <>
                  {!w.enabled && <Badge>disabled</Badge>}
                  <Badge tone="neutral">{w.keyScheme}</Badge>
                </>
              }
            >
              <div className="muted small mb-sm">
                {w.chainName} · chain {w.chainId}
              </div>
              {w.error && (
                <div className="callout callout-danger mb-sm">
                  <div className="callout-title">Chain read failed</div>
                  {w.error}
                </div>
              )}
              {w.lowBalance && (
                <div className="callout callout-warning mb-sm" data-testid="low-balance">
                  <div className="callout-title">
                    <AlertTriangle size={14} /> Low balance
                  </div>
                  {w.lowBalanceReason ?? 'Below the configured threshold.'}
                </div>
              )}
              <div className="balances">
                {w.native && (
                  <div className="balance">
                    <div className="balance-asset">{w.native.symbol}</div>
                    <div className="balance-value num" title={w.native.balance}>{fmtAmount(w.native.balance)}</div>
                  </div>
                )}
                {w.tokens.map((t) => (
                  <div key={t.asset} className="balance">
                    <div className="balance-asset">{t.asset}</div>
                    <div className="balance-value num" title={t.balance}>{fmtAmount(t.balance)}</div>
                  </div>
                ))}
              </div>
              <KeyValue
                items={[
                  ['Nonce', <Badge tone={v.tone} dot>{v.label}</Badge>],
                  ['Next nonce (database)', w.dbNextNonce ?? '—'],
                  ['Chain nonce latest / pending', `${w.chainNonceLatest ?? '—'} / ${w.chainNoncePending ?? '—'}`],
                  ['Withdrawals in flight', w.pendingCount],
                ]}
              />
            </Card>
          );
        })}
      </div>
    </>
  );
}
