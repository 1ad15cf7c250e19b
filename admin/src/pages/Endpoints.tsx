import { useApi } from '../hooks';
import { Badge, Card, DataTable, PageHeader, StatusBadge } from '../ui';

type Endpoint = { chainId: number; url: string; state: string; headBlock: number | null; headLagBlocks: number | null; latencyMs: number | null; errorRate: number | null; weight?: number };

export function EndpointsPage() {
  const list = useApi<{ items: Endpoint[] }>('/endpoints', 5000);
  return (
    <>
      <PageHeader title="RPC endpoints" subtitle="Health of every node Sluice talks to: reads go to the healthiest current one, broadcasts to all healthy ones. Refreshes every 5 s." />
      <Card pad={false}>
        <DataTable
          testId="endpoints-table"
          columns={[
            { key: 'chain', header: 'Chain', render: (e: Endpoint) => e.chainId },
            { key: 'url', header: 'Endpoint', render: (e) => <code className="plain">{e.url}</code> },
            { key: 'state', header: 'State', render: (e) => <StatusBadge status={e.state} /> },
            { key: 'head', header: 'Head block', align: 'right', render: (e) => <span className="num">{e.headBlock?.toLocaleString() ?? '—'}</span> },
            { key: 'lag', header: 'Head lag', align: 'right', render: (e) => (e.headLagBlocks === null ? '—' : e.headLagBlocks > 0 ? <Badge tone="warning">{e.headLagBlocks} blocks</Badge> : <span className="muted">0</span>) },
            { key: 'lat', header: 'Latency', align: 'right', render: (e) => <span className="num">{e.latencyMs === null ? '—' : `${Math.round(e.latencyMs)} ms`}</span> },
            { key: 'err', header: 'Error rate', align: 'right', render: (e) => (e.errorRate === null ? '—' : <span className={e.errorRate > 0.05 ? 'error-text num' : 'num'}>{(e.errorRate * 100).toFixed(1)} %</span>) },
            { key: 'w', header: 'Weight', align: 'right', render: (e) => e.weight ?? '—' },
          ]}
          rows={list.data?.items}
          loading={list.loading}
          error={list.error}
          onRetry={list.reload}
          rowKey={(e) => `${e.chainId}:${e.url}`}
          empty="No RPC endpoints configured"
        />
      </Card>
    </>
  );
}
