// The dashboard's small kit: buttons that show progress, errors a person can act on, dialogs,
// form fields, status badges, toasts and a confirm step for destructive actions.
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ButtonHTMLAttributes, type ReactNode } from 'react';
import { ApiError } from './api';

export function Spinner({ label }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label ?? 'Loading'} />;
}

export function Button({
  busy,
  kind = 'default',
  children,
  disabled,
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; kind?: 'primary' | 'danger' | 'default' | 'ghost' }) {
  return (
    <button type="button" className={`btn btn-${kind}`} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {busy ? <Spinner label="Working" /> : null}
      {children}
    </button>
  );
}

/** What went wrong, in the gateway's words, with its status and the field it named. */
export function ErrorNote({ error, onDismiss }: { error: Error | null | undefined; onDismiss?: () => void }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  const title =
    api?.status === 403
      ? 'Not allowed'
      : api?.status === 404
        ? 'Not found'
        : api?.status === 409
          ? 'Not possible right now'
          : api?.status === 429
            ? 'Too many requests'
            : api && api.status >= 500
              ? 'The platform could not do this'
              : api?.status === 0
                ? 'No connection'
                : 'Error';
  return (
    <div className="note note-error" role="alert">
      <div>
        <strong>{title}</strong>
        {api && api.status > 0 ? <span className="muted"> · {api.status} {api.code}</span> : null}
        <div>{error.message}</div>
      </div>
      {onDismiss ? (
        <button type="button" className="note-close" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      ) : null}
    </div>
  );
}

export function Field({ label, error, hint, children, htmlFor }: { label: string; error?: string | null; hint?: ReactNode; children: ReactNode; htmlFor?: string }) {
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {error ? (
        <div className="field-error" role="alert">
          {error}
        </div>
      ) : hint ? (
        <div className="field-hint">{hint}</div>
      ) : null}
    </div>
  );
}

export function Modal({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    ref.current?.querySelector<HTMLElement>('input, select, textarea, button')?.focus();
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className={`modal${wide ? ' modal-wide' : ''}`} role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <div className="modal-head">
          <h2>{title}</h2>
          <button type="button" className="note-close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}

const TONE: Record<string, string> = {
  RUNNING: 'ok',
  READY: 'ok',
  ACTIVE: 'ok',
  BUSY: 'info',
  PENDING: 'busy',
  DEPLOYING: 'busy',
  STOPPING: 'busy',
  PROVISIONING: 'busy',
  DELETING: 'busy',
  STOPPED: 'idle',
  TERMINATED: 'idle',
  DELETED: 'idle',
  FAILED: 'bad',
  UNHEALTHY: 'bad',
};

export function StatusBadge({ status, title }: { status: string; title?: string }) {
  const tone = TONE[status] ?? 'idle';
  return (
    <span className={`badge badge-${tone}`} title={title ?? undefined} data-status={status}>
      {tone === 'busy' ? <span className="pulse" aria-hidden="true" /> : null}
      {status}
    </span>
  );
}

/** A destructive button that asks once more, in place, before it acts. */
export function ConfirmButton({ label, confirm, onConfirm, busy, kind = 'danger' }: { label: string; confirm: string; onConfirm: () => void; busy?: boolean; kind?: 'danger' | 'default' }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <Button kind={kind} busy={busy} onClick={() => setAsking(true)}>
        {label}
      </Button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={confirm}>
      <span className="confirm-text">{confirm}</span>
      <Button
        kind={kind}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </Button>
      <Button kind="ghost" onClick={() => setAsking(false)}>
        Cancel
      </Button>
    </span>
  );
}

export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle ? <p className="muted">{subtitle}</p> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

export function Card({ title, actions, children }: { title?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="card">
      {title || actions ? (
        <div className="card-head">
          {title ? <h2>{title}</h2> : <span />}
          {actions}
        </div>
      ) : null}
      {children}
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="loading">
      <Spinner /> Loading {what}…
    </div>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <Button
      kind="ghost"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => setDone(true),
          () => setDone(false),
        );
        window.setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? 'Copied' : label}
    </Button>
  );
}

// ───────────── toasts: the outcome of an action, for a few seconds ─────────────

interface Toast {
  id: number;
  text: string;
}
const ToastContext = createContext<(text: string) => void>(() => {});
export const useToast = () => useContext(ToastContext);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const show = useCallback((text: string) => {
    const id = next.current++;
    setToasts((t) => [...t.slice(-3), { id, text }]);
    window.setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 4000);
  }, []);
  return (
    <ToastContext.Provider value={show}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className="toast">
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
