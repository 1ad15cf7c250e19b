import { AlertTriangle, Check, ChevronLeft, ChevronRight, Copy, ExternalLink, Inbox, Loader2, X } from 'lucide-react';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useId, useRef, useState } from 'react';
import type { ApiError } from './api';
import { shortHash } from './format';

/* ---------- layout ---------- */

export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="muted">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}

export function Card({ title, actions, children, className, pad = true }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; pad?: boolean }) {
  return (
    <section className={`card ${className ?? ''}`}>
      {(title || actions) && (
        <div className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      <div className={pad ? 'card-body' : ''}>{children}</div>
    </section>
  );
}

export function Stat({ label, value, tone, hint, testId }: { label: string; value: ReactNode; tone?: Tone; hint?: ReactNode; testId?: string }) {
  return (
    <div className={`stat ${tone ? `stat-${tone}` : ''}`} data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="stat-hint">{hint}</div>}
    </div>
  );
}

/* ---------- badges ---------- */

export type Tone = 'neutral' | 'info' | 'success' | 'warning' | 'danger' | 'accent';

export function Badge({ tone = 'neutral', children, dot = false }: { tone?: Tone; children: ReactNode; dot?: boolean }) {
  return (
    <span className={`badge badge-${tone}`}>
      {dot && <span className="badge-dot" />}
      {children}
    </span>
  );
}

const STATUS_TONE: Record<string, Tone> = {
  RECEIVED: 'neutral',
  SIGNED: 'accent',
  BROADCAST: 'info',
  CONFIRMING: 'info',
  COMPLETED: 'success',
  REJECTED: 'danger',
  FAILED: 'danger',
  CANCELLED: 'warning',
  open: 'danger',
  retried: 'info',
  discarded: 'neutral',
  up: 'success',
  down: 'danger',
  'half-open': 'warning',
  lagging: 'warning',
};

export function StatusBadge({ status }: { status: string | null | undefined }) {
  if (!status) return <span className="muted">—</span>;
  return (
    <Badge tone={STATUS_TONE[status] ?? 'neutral'} dot>
      {status}
    </Badge>
  );
}

/* ---------- hashes ---------- */

export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="icon-btn"
      aria-label={`${label} ${value}`}
      title={done ? 'Copied' : label}
      onClick={(e) => {
        e.stopPropagation();
        e.preventDefault();
        void navigator.clipboard?.writeText(value).catch(() => {});
        setDone(true);
        setTimeout(() => setDone(false), 1200);
      }}
    >
      {done ? <Check size={13} /> : <Copy size={13} />}
    </button>
  );
}

/** A hash or address in monospace, shortened unless `full`, with a copy button and an optional explorer link. */
export function Hash({ value, full = false, href, testId }: { value: string | null | undefined; full?: boolean; href?: string | null; testId?: string }) {
  if (!value) return <span className="muted">—</span>;
  return (
    <span className={`hash ${full ? 'hash-full' : ''}`} title={value} data-testid={testId}>
      <code>{full ? value : shortHash(value, 8, 6)}</code>
      <CopyButton value={value} />
      {href && (
        <a className="icon-btn" href={href} target="_blank" rel="noreferrer" aria-label="Open in block explorer" title="Open in block explorer">
          <ExternalLink size={13} />
        </a>
      )}
    </span>
  );
}

/* ---------- buttons and inputs ---------- */

type ButtonProps = React.ButtonHTMLAttributes<HTMLButtonElement> & { variant?: 'primary' | 'secondary' | 'danger' | 'ghost'; size?: 'sm' | 'md'; busy?: boolean; icon?: ReactNode };

export function Button({ variant = 'secondary', size = 'md', busy, icon, children, className, disabled, ...rest }: ButtonProps) {
  return (
    <button type="button" className={`btn btn-${variant} btn-${size} ${className ?? ''}`} disabled={disabled || busy} {...rest}>
      {busy ? <Loader2 size={14} className="spin" /> : icon}
      {children && <span>{children}</span>}
    </button>
  );
}

export function Field({ label, children, hint }: { label: string; children: (id: string) => ReactNode; hint?: ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint && <div className="field-hint">{hint}</div>}
    </div>
  );
}

export function Segmented<T extends string>({ value, options, onChange, label }: { value: T; options: { value: T; label: string }[]; onChange: (v: T) => void; label: string }) {
  return (
    <div className="segmented" role="tablist" aria-label={label}>
      {options.map((o) => (
        <button key={o.value} type="button" role="tab" aria-selected={o.value === value} className={o.value === value ? 'active' : ''} onClick={() => onChange(o.value)}>
          {o.label}
        </button>
      ))}
    </div>
  );
}

/* ---------- states ---------- */

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status">
      <Loader2 size={18} className="spin" /> {label}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <Inbox size={28} strokeWidth={1.5} />
      <div className="state-title">{title}</div>
      {children && <div className="muted">{children}</div>}
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: ApiError | Error; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <AlertTriangle size={22} />
      <div className="state-title">Could not load this</div>
      <div className="muted">{error.message}</div>
      {onRetry && (
        <Button size="sm" onClick={onRetry}>
          Try again
        </Button>
      )}
    </div>
  );
}

export function Callout({ tone = 'info', title, children }: { tone?: Tone; title?: ReactNode; children: ReactNode }) {
  return (
    <div className={`callout callout-${tone}`} role={tone === 'danger' ? 'alert' : undefined}>
      {title && <div className="callout-title">{title}</div>}
      <div>{children}</div>
    </div>
  );
}

/* ---------- tables ---------- */

export type Column<T> = { key: string; header: ReactNode; render: (row: T) => ReactNode; align?: 'right'; width?: string | number };

export function DataTable<T>({
  columns,
  rows,
  loading,
  error,
  onRetry,
  empty = 'Nothing here',
  emptyHint,
  rowKey,
  onRowClick,
  testId,
}: {
  columns: Column<T>[];
  rows: T[] | null | undefined;
  loading?: boolean;
  error?: ApiError | null;
  onRetry?: () => void;
  empty?: string;
  emptyHint?: ReactNode;
  rowKey: (row: T) => string;
  onRowClick?: (row: T) => void;
  testId?: string;
}) {
  if (error && !rows) return <ErrorState error={error} onRetry={onRetry} />;
  if (!rows) return loading ? <Spinner /> : null;
  return (
    <div className={`table-wrap ${loading ? 'is-refreshing' : ''}`}>
      <table className="table" data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} style={{ textAlign: c.align ?? 'left', width: c.width }}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={rowKey(r)}
              className={onRowClick ? 'clickable' : ''}
              onClick={onRowClick ? () => onRowClick(r) : undefined}
              onKeyDown={onRowClick ? (e) => e.key === 'Enter' && e.target === e.currentTarget && onRowClick(r) : undefined}
              tabIndex={onRowClick ? 0 : undefined}
            >
              {columns.map((c) => (
                <td key={c.key} style={{ textAlign: c.align ?? 'left' }}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <EmptyState title={empty}>{emptyHint}</EmptyState>}
    </div>
  );
}

export function Pager({ page, hasPrev, nextCursor, onPrev, onNext, count }: { page: number; hasPrev: boolean; nextCursor: string | null | undefined; onPrev: () => void; onNext: (c: string) => void; count?: number }) {
  return (
    <div className="pager">
      <span className="muted">
        Page {page}
        {count !== undefined ? ` · ${count} shown` : ''}
      </span>
      <div className="pager-buttons">
        <Button size="sm" variant="ghost" disabled={!hasPrev} onClick={onPrev} icon={<ChevronLeft size={14} />}>
          Previous
        </Button>
        <Button size="sm" variant="ghost" disabled={!nextCursor} onClick={() => nextCursor && onNext(nextCursor)}>
          Next <ChevronRight size={14} />
        </Button>
      </div>
    </div>
  );
}

/* ---------- key/value ---------- */

export function KeyValue({ items }: { items: [ReactNode, ReactNode][] }) {
  return (
    <dl className="kv">
      {items.map(([k, v], i) => (
        <div key={i} className="kv-row">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/* ---------- dialogs ---------- */

export function Modal({ title, onClose, children, footer, tone }: { title: string; onClose: () => void; children: ReactNode; footer?: ReactNode; tone?: 'danger' }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('textarea, input, select, button:not(.modal-close)');
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
      if (e.key === 'Tab' && el) {
        const focusable = [...el.querySelectorAll<HTMLElement>('button, [href], input, select, textarea')].filter((x) => !x.hasAttribute('disabled'));
        if (focusable.length === 0) return;
        const f = focusable[0]!;
        const l = focusable[focusable.length - 1]!;
        if (e.shiftKey && document.activeElement === f) {
          e.preventDefault();
          l.focus();
        } else if (!e.shiftKey && document.activeElement === l) {
          e.preventDefault();
          f.focus();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      prev?.focus();
    };
  }, [onClose]);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className={`modal ${tone === 'danger' ? 'modal-danger' : ''}`} role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <div className="modal-head">
          <h2>{title}</h2>
          <button type="button" className="icon-btn modal-close" aria-label="Close" onClick={onClose}>
            <X size={16} />
          </button>
        </div>
        <div className="modal-body">{children}</div>
        {footer && <div className="modal-foot">{footer}</div>}
      </div>
    </div>
  );
}

/**
 * A destructive or state-changing action: says what will happen, asks for the reason the audit
 * log keeps, and shows the server's refusal in place.
 */
export function ConfirmDialog({
  title,
  consequence,
  confirmLabel,
  tone = 'primary',
  reasonRequired = true,
  onConfirm,
  onClose,
  children,
}: {
  title: string;
  consequence: ReactNode;
  confirmLabel: string;
  tone?: 'primary' | 'danger';
  reasonRequired?: boolean;
  onConfirm: (reason: string) => Promise<void>;
  onClose: () => void;
  children?: ReactNode;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ok = !reasonRequired || reason.trim().length > 0;
  const submit = async () => {
    if (!ok) return;
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };
  return (
    <Modal
      title={title}
      onClose={onClose}
      tone={tone === 'danger' ? 'danger' : undefined}
      footer={
        <>
          <Button variant="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button variant={tone} busy={busy} disabled={!ok} onClick={submit} data-testid="confirm-action">
            {confirmLabel}
          </Button>
        </>
      }
    >
      <Callout tone={tone === 'danger' ? 'warning' : 'info'} title="What happens">
        <span data-testid="consequence">{consequence}</span>
      </Callout>
      {children}
      <Field label={reasonRequired ? 'Reason (required, kept in the audit log)' : 'Reason (optional, kept in the audit log)'}>
        {(id) => <textarea id={id} rows={3} value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} placeholder="Why are you doing this?" />}
      </Field>
      {error && <Callout tone="danger">{error}</Callout>}
    </Modal>
  );
}

/* ---------- toasts ---------- */

type Toast = { id: number; tone: Tone; text: string };
const ToastContext = createContext<(tone: Tone, text: string) => void>(() => {});
export const useToast = () => useContext(ToastContext);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const push = useCallback((tone: Tone, text: string) => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t, { id, tone, text }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 5000);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
