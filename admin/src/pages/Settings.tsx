import { Pause, Pencil, Play } from 'lucide-react';
import { type ReactNode, useState } from 'react';
import { api } from '../api';
import { useApi } from '../hooks';
import { useCan } from '../session';
import { Badge, Button, Card, ConfirmDialog, DataTable, ErrorState, Field, PageHeader, Spinner, useToast } from '../ui';

type Chain = { chainId: number; name: string; confirmations: number; maxFeePerGasGwei: string; maxPendingPerWallet: number; paused: boolean; pausedReason: string | null; explorerUrl?: string | null };
type Network = { asset: string; chainId: number; kind: string; enabled: boolean; paused: boolean; pausedReason?: string | null; minAmount: string; maxAmount: string | null; withdrawalFee: string };
type Settings = { global: { paused: boolean; pausedReason: string | null; pausedBy?: string | null; pausedAt?: number | null }; chains: Chain[]; networks: Network[] };

type PauseTarget = { scope: 'global' } | { scope: 'chain'; chainId: number; name: string } | { scope: 'network'; asset: string; chainId: number };

const targetLabel = (t: PauseTarget) => (t.scope === 'global' ? 'every withdrawal' : t.scope === 'chain' ? `chain ${t.name} (${t.chainId})` : `${t.asset} on chain ${t.chainId}`);

export function SettingsPage() {
  const s = useApi<Settings>('/settings', 5000);
  const canPause = useCan('operator');
  const canEdit = useCan('admin');
  const toast = useToast();
  const [pause, setPause] = useState<{ target: PauseTarget; paused: boolean } | null>(null);
  const [editChain, setEditChain] = useState<Chain | null>(null);
  const [editNetwork, setEditNetwork] = useState<Network | null>(null);

  if (s.error && !s.data) return <ErrorState error={s.error} onRetry={s.reload} />;
  if (!s.data) return <Spinner />;
  const { global, chains, networks } = s.data;
  /** A network shown paused because its chain or everything is: its own switch is not what holds it. */
  const inherited = (n: Network) => global.paused || !!chains.find((c) => c.chainId === n.chainId)?.paused;

  const pauseButton = (target: PauseTarget, paused: boolean, testId: string) =>
    canPause ? (
      paused ? (
        <Button size="sm" variant="primary" icon={<Play size={13} />} onClick={() => setPause({ target, paused: false })} data-testid={`resume-${testId}`}>
          Resume
        </Button>
      ) : (
        <Button size="sm" icon={<Pause size={13} />} onClick={() => setPause({ target, paused: true })} data-testid={`pause-${testId}`}>
          Pause
        </Button>
      )
    ) : null;

  return (
    <>
      <PageHeader title="Settings" subtitle="Kill switches, chain and asset-network settings. Paused withdrawals wait (they are accepted and stay RECEIVED); they are never rejected." />
      <Card className={global.paused ? 'card-danger' : ''}>
        <div className="kill-switch">
          <div>
            <h2 className="kill-title">
              Kill switch {global.paused ? <Badge tone="danger" dot>everything paused</Badge> : <Badge tone="success" dot>running</Badge>}
            </h2>
            <p className="muted">
              {global.paused
                ? `Paused${global.pausedBy ? ` by ${global.pausedBy}` : ''}: ${global.pausedReason ?? '—'}. Nothing is signed until it is resumed.`
                : 'Pausing stops all signing within a second, on every chain. Requests are still accepted and wait.'}
            </p>
          </div>
          {canPause &&
            (global.paused ? (
              <Button variant="primary" icon={<Play size={14} />} onClick={() => setPause({ target: { scope: 'global' }, paused: false })} data-testid="resume-global">
                Resume everything
              </Button>
            ) : (
              <Button variant="danger" icon={<Pause size={14} />} onClick={() => setPause({ target: { scope: 'global' }, paused: true })} data-testid="pause-global">
                Pause everything
              </Button>
            ))}
        </div>
      </Card>

      <Card title="Chains" pad={false}>
        <DataTable
          testId="chains-table"
          columns={[
            { key: 'name', header: 'Chain', render: (c: Chain) => <span><strong>{c.name}</strong> <span className="muted">· {c.chainId}</span></span> },
            { key: 'state', header: 'State', render: (c) => (c.paused ? <Badge tone="warning" dot>paused</Badge> : <Badge tone="success" dot>running</Badge>) },
            { key: 'conf', header: 'Confirmations', align: 'right', render: (c) => c.confirmations },
            { key: 'fee', header: 'Fee cap (gwei)', align: 'right', render: (c) => <span className="num">{c.maxFeePerGasGwei}</span> },
            { key: 'inflight', header: 'In flight per wallet', align: 'right', render: (c) => c.maxPendingPerWallet },
            { key: 'exp', header: 'Explorer', render: (c) => (c.explorerUrl ? <a href={c.explorerUrl} target="_blank" rel="noreferrer">{c.explorerUrl.replace(/^https?:\/\//, '')}</a> : <span className="muted">none</span>) },
            { key: 'why', header: 'Pause reason', render: (c) => <span className="muted">{c.paused ? c.pausedReason : ''}</span> },
            {
              key: 'act',
              header: '',
              align: 'right',
              render: (c) => (
                <div className="row-actions">
                  {pauseButton({ scope: 'chain', chainId: c.chainId, name: c.name }, c.paused, `chain-${c.chainId}`)}
                  {canEdit && (
                    <Button size="sm" variant="ghost" icon={<Pencil size={13} />} onClick={() => setEditChain(c)} aria-label={`Edit chain ${c.chainId}`}>
                      Edit
                    </Button>
                  )}
                </div>
              ),
            },
          ]}
          rows={chains}
          rowKey={(c) => String(c.chainId)}
          empty="No chains configured"
        />
      </Card>

      <Card title="Asset networks" pad={false}>
        <DataTable
          testId="networks-table"
          columns={[
            { key: 'asset', header: 'Asset', render: (n: Network) => <strong>{n.asset}</strong> },
            { key: 'chain', header: 'Chain', render: (n) => n.chainId },
            { key: 'kind', header: 'Kind', render: (n) => <Badge>{n.kind}</Badge> },
            { key: 'state', header: 'State', render: (n) => (!n.enabled ? <Badge tone="danger" dot>disabled</Badge> : n.paused ? <Badge tone="warning" dot>{inherited(n) ? `paused (${global.paused ? 'everything' : 'chain'})` : 'paused'}</Badge> : <Badge tone="success" dot>enabled</Badge>) },
            { key: 'min', header: 'Min', align: 'right', render: (n) => <span className="num">{n.minAmount}</span> },
            { key: 'max', header: 'Max', align: 'right', render: (n) => <span className="num">{n.maxAmount ?? '∞'}</span> },
            { key: 'fee', header: 'Fee', align: 'right', render: (n) => <span className="num">{n.withdrawalFee}</span> },
            {
              key: 'act',
              header: '',
              align: 'right',
              render: (n) => (
                <div className="row-actions">
                  {!inherited(n) && pauseButton({ scope: 'network', asset: n.asset, chainId: n.chainId }, n.paused, `network-${n.asset}-${n.chainId}`)}
                  {canEdit && (
                    <Button size="sm" variant="ghost" icon={<Pencil size={13} />} onClick={() => setEditNetwork(n)} aria-label={`Edit ${n.asset} on ${n.chainId}`}>
                      Edit
                    </Button>
                  )}
                </div>
              ),
            },
          ]}
          rows={networks}
          rowKey={(n) => `${n.asset}:${n.chainId}`}
          empty="No asset networks configured"
        />
      </Card>

      {pause && (
        <ConfirmDialog
          title={`${pause.paused ? 'Pause' : 'Resume'} ${targetLabel(pause.target)}`}
          tone={pause.paused ? 'danger' : 'primary'}
          confirmLabel={pause.paused ? 'Pause' : 'Resume'}
          consequence={
            pause.paused
              ? `Signing stops for ${targetLabel(pause.target)} within a second. New requests are still accepted and wait as RECEIVED (failure code "paused"); transactions already signed keep being broadcast and tracked.`
              : `Waiting withdrawals for ${targetLabel(pause.target)} are queued for signing again and go on as usual.`
          }
          onClose={() => setPause(null)}
          onConfirm={async (reason) => {
            const t = pause.target;
            await api('POST', '/pause', { scope: t.scope, paused: pause.paused, reason, ...(t.scope !== 'global' ? { chainId: t.chainId } : {}), ...(t.scope === 'network' ? { asset: t.asset } : {}) });
            toast('success', `${pause.paused ? 'Paused' : 'Resumed'} ${targetLabel(t)}`);
            setPause(null);
            s.reload();
          }}
        />
      )}
      {editChain && (
        <EditDialog
          title={`Edit chain ${editChain.name}`}
          note="Running workers apply chain settings within 5 seconds."
          fields={[
            { key: 'confirmations', label: 'Required confirmations', value: String(editChain.confirmations), numeric: true },
            { key: 'maxFeePerGasGwei', label: 'Fee cap (max fee per gas, gwei)', value: editChain.maxFeePerGasGwei },
            { key: 'maxPendingPerWallet', label: 'Transactions in flight per hot wallet', value: String(editChain.maxPendingPerWallet), numeric: true },
          ]}
          onClose={() => setEditChain(null)}
          onSave={async (values, reason) => {
            await api('PATCH', `/settings/chains/${editChain.chainId}`, { confirmations: Number(values.confirmations), maxFeePerGasGwei: values.maxFeePerGasGwei, maxPendingPerWallet: Number(values.maxPendingPerWallet), reason });
            toast('success', `Saved chain ${editChain.chainId}`);
            setEditChain(null);
            s.reload();
          }}
        />
      )}
      {editNetwork && (
        <EditDialog
          title={`Edit ${editNetwork.asset} on chain ${editNetwork.chainId}`}
          note="Reaches every process within 5 seconds. Waiting withdrawals are checked again against the new limits when they are signed."
          fields={[
            { key: 'enabled', label: 'Enabled', value: String(editNetwork.enabled), options: ['true', 'false'] },
            { key: 'minAmount', label: 'Minimum amount', value: editNetwork.minAmount },
            { key: 'maxAmount', label: 'Maximum amount', value: editNetwork.maxAmount ?? '' },
            { key: 'withdrawalFee', label: 'Withdrawal fee', value: editNetwork.withdrawalFee },
          ]}
          onClose={() => setEditNetwork(null)}
          onSave={async (v, reason) => {
            await api('PATCH', `/settings/networks/${editNetwork.asset}/${editNetwork.chainId}`, {
              enabled: v.enabled === 'true',
              minAmount: v.minAmount,
              ...(v.maxAmount ? { maxAmount: v.maxAmount } : {}),
              withdrawalFee: v.withdrawalFee,
              reason,
            });
            toast('success', `Saved ${editNetwork.asset} on ${editNetwork.chainId}`);
            setEditNetwork(null);
            s.reload();
          }}
        />
      )}
    </>
  );
}

type EditField = { key: string; label: string; value: string; numeric?: boolean; options?: string[] };

function EditDialog({ title, note, fields, onClose, onSave }: { title: string; note: ReactNode; fields: EditField[]; onClose: () => void; onSave: (values: Record<string, string>, reason: string) => Promise<void> }) {
  const [values, setValues] = useState<Record<string, string>>(Object.fromEntries(fields.map((f) => [f.key, f.value])));
  const changed = fields.filter((f) => values[f.key] !== f.value);
  return (
    <ConfirmDialog
      title={title}
      consequence={changed.length === 0 ? `Nothing changed yet. ${note}` : <>{changed.map((f) => `${f.label}: ${f.value || '—'} → ${values[f.key] || '—'}`).join('; ')}. {note}</>}
      confirmLabel="Save"
      onClose={onClose}
      onConfirm={(reason) => onSave(values, reason)}
    >
      <div className="form-grid">
        {fields.map((f) => (
          <Field key={f.key} label={f.label}>
            {(id) =>
              f.options ? (
                <select id={id} value={values[f.key]} onChange={(e) => setValues({ ...values, [f.key]: e.target.value })}>
                  {f.options.map((o) => (
                    <option key={o} value={o}>
                      {o === 'true' ? 'Yes' : o === 'false' ? 'No' : o}
                    </option>
                  ))}
                </select>
              ) : (
                <input id={id} value={values[f.key]} inputMode={f.numeric ? 'numeric' : 'decimal'} onChange={(e) => setValues({ ...values, [f.key]: e.target.value })} />
              )
            }
          </Field>
        ))}
      </div>
    </ConfirmDialog>
  );
}
