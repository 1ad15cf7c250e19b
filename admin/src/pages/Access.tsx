import { KeyRound, Plus, RefreshCcw, ShieldOff, UserPlus } from 'lucide-react';
import { useState } from 'react';
import { api, type Role } from '../api';
import { fmtAgo, fmtTime } from '../format';
import { useApi } from '../hooks';
import { useCan, useSession } from '../session';
import { Badge, Button, Callout, Card, ConfirmDialog, CopyButton, DataTable, Field, Modal, PageHeader, useToast } from '../ui';

type ApiKey = { id: string; name: string; prefix?: string; scopes: string[]; createdAt: number; revokedAt: number | null; lastUsedAt: number | null };
type AdminUser = { username: string; role: Role; createdAt: number; disabledAt: number | null; lastLoginAt: number | null };

const SCOPES = ['withdrawals:write', 'withdrawals:read', 'ledger:write', 'ledger:read', 'admin'];
const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const ROLE_HELP: Record<Role, string> = { viewer: 'reads everything, changes nothing', operator: 'viewer + retry/discard dead letters, pause/resume', admin: 'everything: settings, API keys, console users' };

export function AccessPage() {
  const isAdmin = useCan('admin');
  if (!isAdmin)
    return (
      <>
        <PageHeader title="API keys & admins" />
        <Callout tone="info" title="Admins only">
          API keys and console users are managed by admins. Ask one if you need a key or a different role.
        </Callout>
      </>
    );
  return (
    <>
      <PageHeader title="API keys & admins" subtitle="Keys your platform uses to call Sluice, and the people who use this console. Secrets are shown once, when created." />
      <ApiKeys />
      <AdminUsers />
    </>
  );
}

function Secret({ label, value, onClose }: { label: string; value: string; onClose: () => void }) {
  return (
    <Modal title={label} onClose={onClose} footer={<Button variant="primary" onClick={onClose}>I have stored it</Button>}>
      <Callout tone="warning" title="Shown once">
        Copy it now: Sluice keeps only a hash and cannot show it again.
      </Callout>
      <div className="secret" data-testid="secret">
        <code>{value}</code>
        <CopyButton value={value} />
      </div>
    </Modal>
  );
}

function ApiKeys() {
  const list = useApi<{ items: ApiKey[] }>('/api-keys');
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [action, setAction] = useState<{ key: ApiKey; kind: 'revoke' | 'rotate' } | null>(null);
  return (
    <Card
      title="API keys"
      pad={false}
      actions={
        <Button size="sm" variant="primary" icon={<Plus size={14} />} onClick={() => setCreating(true)}>
          New API key
        </Button>
      }
    >
      <DataTable
        testId="api-keys-table"
        columns={[
          { key: 'name', header: 'Name', render: (k: ApiKey) => <span><strong>{k.name}</strong> {k.prefix && <code className="plain muted">{k.prefix}…</code>}</span> },
          { key: 'scopes', header: 'Scopes', render: (k) => <span className="chips">{k.scopes.map((s) => <Badge key={s} tone={s === 'admin' ? 'danger' : 'neutral'}>{s}</Badge>)}</span> },
          { key: 'state', header: 'State', render: (k) => (k.revokedAt ? <Badge tone="neutral">revoked {fmtAgo(k.revokedAt)}</Badge> : <Badge tone="success" dot>active</Badge>) },
          { key: 'used', header: 'Last used', render: (k) => <span title={fmtTime(k.lastUsedAt)}>{k.lastUsedAt ? fmtAgo(k.lastUsedAt) : 'never'}</span> },
          { key: 'created', header: 'Created', render: (k) => <span className="nowrap">{fmtTime(k.createdAt)}</span> },
          {
            key: 'act',
            header: '',
            align: 'right',
            render: (k) =>
              !k.revokedAt && (
                <div className="row-actions">
                  <Button size="sm" variant="ghost" icon={<RefreshCcw size={13} />} onClick={() => setAction({ key: k, kind: 'rotate' })}>
                    Rotate
                  </Button>
                  <Button size="sm" variant="ghost" className="danger-text" icon={<ShieldOff size={13} />} onClick={() => setAction({ key: k, kind: 'revoke' })}>
                    Revoke
                  </Button>
                </div>
              ),
          },
        ]}
        rows={list.data?.items}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(k) => k.id}
        empty="No API keys"
      />
      {creating && (
        <CreateKey
          onClose={() => setCreating(false)}
          onCreated={(s, name) => {
            setCreating(false);
            setSecret({ label: `API key "${name}"`, value: s });
            list.reload();
          }}
        />
      )}
      {action && (
        <ConfirmDialog
          title={`${action.kind === 'revoke' ? 'Revoke' : 'Rotate'} API key "${action.key.name}"`}
          tone="danger"
          confirmLabel={action.kind === 'revoke' ? 'Revoke' : 'Rotate'}
          consequence={
            action.kind === 'revoke'
              ? 'Every call with this key is refused (401) within 10 seconds. This cannot be undone.'
              : 'A new key with the same name and scopes is created and shown once; the old key is revoked at the same time, so update its users right away.'
          }
          onClose={() => setAction(null)}
          onConfirm={async (reason) => {
            const res = await api<{ secret?: string }>('POST', `/api-keys/${action.key.id}/${action.kind}`, { reason });
            setAction(null);
            list.reload();
            if (res.secret) setSecret({ label: `New key for "${action.key.name}"`, value: res.secret });
            else toast('success', `Revoked "${action.key.name}"`);
          }}
        />
      )}
      {secret && <Secret label={secret.label} value={secret.value} onClose={() => setSecret(null)} />}
    </Card>
  );
}

function CreateKey({ onClose, onCreated }: { onClose: () => void; onCreated: (secret: string, name: string) => void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['withdrawals:read']);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ok = name.trim() && scopes.length > 0;
  return (
    <Modal
      title="New API key"
      onClose={onClose}
      footer={
        <>
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button
            variant="primary"
            busy={busy}
            disabled={!ok}
            icon={<KeyRound size={14} />}
            onClick={async () => {
              setBusy(true);
              try {
                const res = await api<{ secret: string }>('POST', '/api-keys', { name: name.trim(), scopes });
                onCreated(res.secret, name.trim());
              } catch (e) {
                setError(e instanceof Error ? e.message : String(e));
                setBusy(false);
              }
            }}
          >
            Create key
          </Button>
        </>
      }
    >
      <Field label="Name">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} placeholder="exchange-backend" maxLength={64} />}</Field>
      <fieldset className="checks">
        <legend>Scopes</legend>
        {SCOPES.map((s) => (
          <label key={s} className="check">
            <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
            <code className="plain">{s}</code>
            {s === 'admin' && <span className="muted small">acts as a console admin</span>}
          </label>
        ))}
      </fieldset>
      {error && <Callout tone="danger">{error}</Callout>}
    </Modal>
  );
}

function AdminUsers() {
  const list = useApi<{ items: AdminUser[] }>('/admin-users');
  const me = useSession().user.username;
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [edit, setEdit] = useState<{ user: AdminUser; role?: Role; disabled?: boolean } | null>(null);
  const toast = useToast();
  return (
    <Card
      title="Console users"
      pad={false}
      actions={
        <Button size="sm" variant="primary" icon={<UserPlus size={14} />} onClick={() => setCreating(true)}>
          New user
        </Button>
      }
    >
      <DataTable
        testId="admin-users-table"
        columns={[
          { key: 'name', header: 'User', render: (u: AdminUser) => <span><strong>{u.username}</strong> {u.username === me && <Badge tone="accent">you</Badge>}</span> },
          {
            key: 'role',
            header: 'Role',
            render: (u) =>
              u.username === me || u.disabledAt ? (
                <Badge tone={u.role === 'admin' ? 'danger' : u.role === 'operator' ? 'accent' : 'neutral'}>{u.role}</Badge>
              ) : (
                <select aria-label={`Role of ${u.username}`} value={u.role} onChange={(e) => setEdit({ user: u, role: e.target.value as Role })} className="select-sm">
                  {ROLES.map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              ),
          },
          { key: 'state', header: 'State', render: (u) => (u.disabledAt ? <Badge>disabled</Badge> : <Badge tone="success" dot>active</Badge>) },
          { key: 'login', header: 'Last sign-in', render: (u) => (u.lastLoginAt ? fmtAgo(u.lastLoginAt) : 'never') },
          { key: 'created', header: 'Created', render: (u) => <span className="nowrap">{fmtTime(u.createdAt)}</span> },
          {
            key: 'act',
            header: '',
            align: 'right',
            render: (u) =>
              u.username !== me && (
                <Button size="sm" variant="ghost" className={u.disabledAt ? '' : 'danger-text'} onClick={() => setEdit({ user: u, disabled: !u.disabledAt })}>
                  {u.disabledAt ? 'Enable' : 'Disable'}
                </Button>
              ),
          },
        ]}
        rows={list.data?.items}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(u) => u.username}
        empty="No console users"
      />
      {creating && (
        <CreateUser
          onClose={() => setCreating(false)}
          onCreated={(username, password) => {
            setCreating(false);
            list.reload();
            if (password) setSecret({ label: `Password of ${username}`, value: password });
            else toast('success', `Created ${username}`);
          }}
        />
      )}
      {edit && (
        <ConfirmDialog
          title={edit.role ? `Make ${edit.user.username} ${edit.role}` : `${edit.disabled ? 'Disable' : 'Enable'} ${edit.user.username}`}
          tone={edit.disabled ? 'danger' : 'primary'}
          confirmLabel="Confirm"
          consequence={edit.role ? `${edit.user.username} becomes ${edit.role}: ${ROLE_HELP[edit.role]}.` : edit.disabled ? `${edit.user.username} is signed out everywhere and cannot sign in.` : `${edit.user.username} can sign in again.`}
          onClose={() => setEdit(null)}
          onConfirm={async (reason) => {
            await api('PATCH', `/admin-users/${encodeURIComponent(edit.user.username)}`, { ...(edit.role ? { role: edit.role } : {}), ...(edit.disabled !== undefined ? { disabled: edit.disabled } : {}), reason });
            setEdit(null);
            list.reload();
          }}
        />
      )}
      {secret && <Secret label={secret.label} value={secret.value} onClose={() => setSecret(null)} />}
    </Card>
  );
}

function CreateUser({ onClose, onCreated }: { onClose: () => void; onCreated: (username: string, password?: string) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Modal
      title="New console user"
      onClose={onClose}
      footer={
        <>
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button
            variant="primary"
            busy={busy}
            disabled={!username.trim()}
            onClick={async () => {
              setBusy(true);
              try {
                const res = await api<{ password?: string }>('POST', '/admin-users', { username: username.trim(), role });
                onCreated(username.trim(), res.password);
              } catch (e) {
                setError(e instanceof Error ? e.message : String(e));
                setBusy(false);
              }
            }}
          >
            Create user
          </Button>
        </>
      }
    >
      <Field label="Username">{(id) => <input id={id} value={username} onChange={(e) => setUsername(e.target.value)} maxLength={64} />}</Field>
      <Field label="Role" hint={ROLE_HELP[role]}>
        {(id) => (
          <select id={id} value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        )}
      </Field>
      <p className="muted small">A strong password is generated and shown once.</p>
      {error && <Callout tone="danger">{error}</Callout>}
    </Modal>
  );
}
