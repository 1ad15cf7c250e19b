import { RefreshCw } from 'lucide-react';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { Bar, CartesianGrid, ComposedChart, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { STATUSES } from '../api';
import { fmtClock, fmtMs } from '../format';
import { useApi } from '../hooks';
import { Badge, Card, EmptyState, ErrorState, PageHeader, Segmented, Spinner, Stat, StatusBadge } from '../ui';

type Overview = {
  counts: Record<string, number>;
  openDeadLetters: { invalid: number; tx: number };
  queues: { name: string; depth: number }[];
  slaBreaches: { broadcastOver30s: number; completionOver5m: number };
  paused: { global: boolean; chains: number[]; networks: { asset: string; chainId: number }[] };
};
type Pct = { p50: number | null; p95: number | null; p99: number | null } | null;
type Throughput = { bucketSeconds: number; buckets: { t: number; created: number; completed: number; failed: number }[] };
type Latency = { bucketSeconds: number; buckets: { t: number; signed: Pct; broadcast: Pct; completed: Pct }[] };
type Range = '1h' | '24h';
type Stage = 'signed' | 'broadcast' | 'completed';

const REFRESH_MS = 5000;
const COLORS = { created: '#6366f1', completed: '#10b981', failed: '#ef4444', p50: '#0ea5e9', p95: '#f59e0b', p99: '#ef4444' };

export function DashboardPage() {
  const [range, setRange] = useState<Range>('1h');
  const overview = useApi<Overview>('/stats/overview', REFRESH_MS);
  const throughput = useApi<Throughput>(`/stats/throughput?range=${range}`, REFRESH_MS);
  const latency = useApi<Latency>(`/stats/latency?range=${range}`, REFRESH_MS);
  const o = overview.data;
  const inFlight = o ? (o.counts.RECEIVED ?? 0) + (o.counts.SIGNED ?? 0) + (o.counts.BROADCAST ?? 0) + (o.counts.CONFIRMING ?? 0) : 0;
  const dlq = o ? o.openDeadLetters.invalid + o.openDeadLetters.tx : 0;
  const breaches = o ? o.slaBreaches.broadcastOver30s + o.slaBreaches.completionOver5m : 0;

  return (
    <>
      <PageHeader
        title="Dashboard"
        subtitle={
          <span className="live">
            <span className="live-dot" /> Live · refreshes every {REFRESH_MS / 1000} s
          </span>
        }
        actions={<Segmented label="Time range" value={range} onChange={setRange} options={[{ value: '1h', label: 'Last hour' }, { value: '24h', label: 'Last day' }]} />}
      />
      {overview.error && !o && <ErrorState error={overview.error} onRetry={overview.reload} />}
      {!o && !overview.error && <Spinner />}
      {o && (
        <>
          {(o.paused.global || o.paused.chains.length > 0 || o.paused.networks.length > 0) && (
            <div className="callout callout-warning mb">
              <div className="callout-title">Paused</div>
              {o.paused.global ? 'Everything is paused.' : `Chains: ${o.paused.chains.join(', ') || 'none'} · Networks: ${o.paused.networks.map((n) => `${n.asset}@${n.chainId}`).join(', ') || 'none'}`} Paused withdrawals wait; <Link to="/settings">manage pauses</Link>.
            </div>
          )}
          <div className="stat-grid">
            <Stat label="In flight" value={inFlight} hint="received → confirming" testId="stat-in-flight" />
            <Stat label="Completed" value={o.counts.COMPLETED ?? 0} tone="success" />
            <Stat label="Rejected / failed / cancelled" value={(o.counts.REJECTED ?? 0) + (o.counts.FAILED ?? 0) + (o.counts.CANCELLED ?? 0)} tone={(o.counts.FAILED ?? 0) > 0 ? 'danger' : undefined} />
            <Stat
              label="Open dead letters"
              value={<Link to="/dead-letters">{dlq}</Link>}
              tone={dlq > 0 ? 'danger' : 'success'}
              hint={`${o.openDeadLetters.invalid} invalid · ${o.openDeadLetters.tx} tx`}
            />
            <Stat
              label="SLA breaches"
              value={breaches}
              tone={breaches > 0 ? 'warning' : 'success'}
              hint={`${o.slaBreaches.broadcastOver30s} broadcast > 30 s · ${o.slaBreaches.completionOver5m} completion > 5 min`}
            />
          </div>
        </>
      )}

      <div className="grid-2">
        <Card title="Withdrawals per minute" actions={<RefreshHint loading={throughput.loading} />}>
          <ThroughputChart t={throughput.data} error={throughput.error} />
        </Card>
        <LatencyCard l={latency.data} error={latency.error} loading={latency.loading} />
      </div>

      {o && (
        <div className="grid-2">
          <Card title="Withdrawals by status">
            <div className="status-bars" data-testid="status-counts">
              {STATUSES.map((s) => {
                const total = Math.max(1, ...STATUSES.map((x) => o.counts[x] ?? 0));
                const n = o.counts[s] ?? 0;
                return (
                  <Link key={s} to={`/withdrawals?status=${s}`} className="status-bar-row">
                    <span className="status-bar-label">
                      <StatusBadge status={s} />
                    </span>
                    <span className="status-bar-track">
                      <span className={`status-bar-fill fill-${s}`} style={{ width: `${(n / total) * 100}%` }} />
                    </span>
                    <span className="status-bar-n">{n.toLocaleString()}</span>
                  </Link>
                );
              })}
            </div>
          </Card>
          <Card title="Queue depths">
            {o.queues.length === 0 ? (
              <EmptyState title="No queues reported" />
            ) : (
              <table className="table compact">
                <thead>
                  <tr>
                    <th>Queue</th>
                    <th style={{ textAlign: 'right' }}>Messages</th>
                  </tr>
                </thead>
                <tbody>
                  {o.queues.map((q) => (
                    <tr key={q.name}>
                      <td>
                        <code className="plain">{q.name}</code>
                      </td>
                      <td style={{ textAlign: 'right' }}>{q.depth > 0 && /dlq/i.test(q.name) ? <Badge tone="danger">{q.depth}</Badge> : q.depth.toLocaleString()}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        </div>
      )}
    </>
  );
}

function RefreshHint({ loading }: { loading: boolean }) {
  return <RefreshCw size={14} className={`muted ${loading ? 'spin' : ''}`} aria-hidden />;
}

function ThroughputChart({ t, error }: { t: Throughput | null; error: Error | null }) {
  if (error && !t) return <ErrorState error={error} />;
  if (!t) return <Spinner />;
  const perMinute = 60 / t.bucketSeconds;
  const data = t.buckets.map((b) => ({ t: b.t, created: b.created * perMinute, completed: b.completed * perMinute, failed: b.failed * perMinute }));
  const any = t.buckets.some((b) => b.created + b.completed + b.failed > 0);
  return (
    <div className="chart" data-testid="chart-throughput" data-points={t.buckets.length} data-has-data={any}>
      <ResponsiveContainer width="100%" height={240}>
        <ComposedChart data={data} margin={{ top: 8, right: 12, bottom: 0, left: -12 }}>
          <CartesianGrid stroke="#eef0f4" vertical={false} />
          <XAxis dataKey="t" tickFormatter={fmtClock} tick={{ fontSize: 11, fill: '#6b7280' }} minTickGap={40} axisLine={false} tickLine={false} />
          <YAxis tick={{ fontSize: 11, fill: '#6b7280' }} allowDecimals={false} axisLine={false} tickLine={false} />
          <Tooltip labelFormatter={(v) => fmtClock(Number(v))} formatter={(v) => `${Number(v).toFixed(1)} / min`} cursor={{ fill: '#f2f4f7' }} />
          <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} />
          <Bar dataKey="completed" stackId="done" fill={COLORS.completed} maxBarSize={14} isAnimationActive={false} />
          <Bar dataKey="failed" name="not paid" stackId="done" fill={COLORS.failed} radius={[3, 3, 0, 0]} maxBarSize={14} isAnimationActive={false} />
          <Line type="monotone" dataKey="created" name="requested" stroke={COLORS.created} strokeWidth={2} dot={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}

const STAGE_LABEL: Record<Stage, string> = { signed: 'request → signed', broadcast: 'request → broadcast', completed: 'request → completed' };

function LatencyCard({ l, error, loading }: { l: Latency | null; error: Error | null; loading: boolean }) {
  const [stage, setStage] = useState<Stage>('completed');
  const summary = l ? summarize(l) : null;
  return (
    <Card
      title="Stage latency"
      actions={
        <>
          <Segmented label="Stage" value={stage} onChange={setStage} options={[{ value: 'signed', label: 'Signed' }, { value: 'broadcast', label: 'Broadcast' }, { value: 'completed', label: 'Completed' }]} />
          <RefreshHint loading={loading} />
        </>
      }
    >
      {error && !l ? (
        <ErrorState error={error} />
      ) : !l ? (
        <Spinner />
      ) : (
        <>
          <div className="chart" data-testid="chart-latency" data-points={l.buckets.length} data-has-data={l.buckets.some((b) => b[stage]?.p50 != null)}>
            <ResponsiveContainer width="100%" height={190}>
              <LineChart data={l.buckets.map((b) => ({ t: b.t, p50: b[stage]?.p50 ?? null, p95: b[stage]?.p95 ?? null, p99: b[stage]?.p99 ?? null }))} margin={{ top: 8, right: 12, bottom: 0, left: -4 }}>
                <CartesianGrid stroke="#eef0f4" vertical={false} />
                <XAxis dataKey="t" tickFormatter={fmtClock} tick={{ fontSize: 11, fill: '#6b7280' }} minTickGap={40} axisLine={false} tickLine={false} />
                <YAxis tickFormatter={(v) => fmtMs(Number(v))} tick={{ fontSize: 11, fill: '#6b7280' }} axisLine={false} tickLine={false} width={56} />
                <Tooltip labelFormatter={(v) => `${fmtClock(Number(v))} · ${STAGE_LABEL[stage]}`} formatter={(v) => fmtMs(Number(v))} />
                <Legend iconType="circle" wrapperStyle={{ fontSize: 12 }} />
                {(['p50', 'p95', 'p99'] as const).map((k) => (
                  <Line key={k} type="monotone" dataKey={k} name={k.toUpperCase()} stroke={COLORS[k]} strokeWidth={2} dot={{ r: 2.5, strokeWidth: 0, fill: COLORS[k] }} connectNulls isAnimationActive={false} />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
          <table className="table compact latency-table">
            <thead>
              <tr>
                <th>Stage (latest)</th>
                <th style={{ textAlign: 'right' }}>P50</th>
                <th style={{ textAlign: 'right' }}>P95</th>
                <th style={{ textAlign: 'right' }}>P99</th>
              </tr>
            </thead>
            <tbody>
              {(['signed', 'broadcast', 'completed'] as const).map((s) => (
                <tr key={s} className={s === stage ? 'selected' : ''}>
                  <td>{STAGE_LABEL[s]}</td>
                  <td style={{ textAlign: 'right' }}>{fmtMs(summary?.[s]?.p50)}</td>
                  <td style={{ textAlign: 'right' }}>{fmtMs(summary?.[s]?.p95)}</td>
                  <td style={{ textAlign: 'right' }}>{fmtMs(summary?.[s]?.p99)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}

/** The newest bucket with data, per stage. */
function summarize(l: Latency): Record<Stage, Pct> {
  const out: Record<Stage, Pct> = { signed: null, broadcast: null, completed: null };
  for (const s of ['signed', 'broadcast', 'completed'] as const) {
    for (let i = l.buckets.length - 1; i >= 0; i--) {
      const v = l.buckets[i]![s];
      if (v && v.p50 !== null) {
        out[s] = v;
        break;
      }
    }
  }
  return out;
}
