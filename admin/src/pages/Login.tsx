import { Activity } from 'lucide-react';
import { type FormEvent, useState } from 'react';
import { api, ApiError, type Session } from '../api';
import { Button, Callout, Field } from '../ui';

export function LoginPage({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api<Session>('POST', '/session', { username, password }));
    } catch (err) {
      const code = err instanceof ApiError ? err.code : '';
      setError(code === 'invalid_credentials' ? 'Wrong username or password.' : code === 'too_many_attempts' ? 'Too many attempts. Wait a few minutes and try again.' : err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form className="login-card" onSubmit={submit}>
        <div className="brand brand-lg">
          <div className="brand-mark">
            <Activity size={18} />
          </div>
          <div>
            <div className="brand-name">Sluice</div>
            <div className="brand-sub">Operator console</div>
          </div>
        </div>
        <h1>Sign in</h1>
        <Field label="Username">{(id) => <input id={id} name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />}</Field>
        <Field label="Password">{(id) => <input id={id} name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />}</Field>
        {error && <Callout tone="danger">{error}</Callout>}
        <Button type="submit" variant="primary" busy={busy} className="btn-block">
          Sign in
        </Button>
        <p className="muted small">
          In dev, the password of <code>admin</code> is printed in the <code>npm start</code> banner.
        </p>
      </form>
    </div>
  );
}
