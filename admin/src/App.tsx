import { Activity, ArrowLeftRight, FileClock, Gauge, KeyRound, LogOut, Server, Settings, ShieldAlert, Users, Wallet } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import { NavLink, Navigate, Route, Routes } from 'react-router-dom';
import { api, type Session, setCsrfToken, setUnauthorizedHandler } from './api';
import { useApi } from './hooks';
import { AccessPage } from './pages/Access';
import { AuditPage } from './pages/Audit';
import { DashboardPage } from './pages/Dashboard';
import { DeadLetterPage, DeadLettersPage } from './pages/DeadLetters';
import { EndpointsPage } from './pages/Endpoints';
import { LoginPage } from './pages/Login';
import { SettingsPage } from './pages/Settings';
import { UsersPage } from './pages/Users';
import { WalletsPage } from './pages/Wallets';
import { WithdrawalPage, WithdrawalsPage } from './pages/Withdrawals';
import { SessionContext } from './session';
import { Badge, Spinner, ToastProvider } from './ui';

type Overview = { openDeadLetters: { invalid: number; tx: number }; paused: { global: boolean; chains: number[]; networks: unknown[] } };

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);

  useEffect(() => {
    setUnauthorizedHandler(() => setSession(null));
    api<Session>('GET', '/session')
      .then((s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      })
      .catch(() => setSession(null));
  }, []);

  const logout = useCallback(() => {
    void api('DELETE', '/session').catch(() => {});
    setCsrfToken('');
    setSession(null);
  }, []);

  if (session === undefined) return <div className="boot"><Spinner label="Starting console…" /></div>;
  if (session === null)
    return (
      <LoginPage
        onSignedIn={(s) => {
          setCsrfToken(s.csrfToken);
          setSession(s);
        }}
      />
    );
  return (
    <SessionContext.Provider value={{ user: session.user, logout }}>
      <ToastProvider>
        <Shell />
      </ToastProvider>
    </SessionContext.Provider>
  );
}

const NAV = [
  { to: '/', label: 'Dashboard', icon: Gauge, end: true },
  { to: '/withdrawals', label: 'Withdrawals', icon: ArrowLeftRight },
  { to: '/dead-letters', label: 'Dead letters', icon: ShieldAlert, badge: 'dlq' as const },
  { to: '/wallets', label: 'Hot wallets', icon: Wallet },
  { to: '/endpoints', label: 'RPC endpoints', icon: Server },
  { to: '/settings', label: 'Settings', icon: Settings, badge: 'paused' as const },
  { to: '/users', label: 'Users', icon: Users },
  { to: '/access', label: 'API keys & admins', icon: KeyRound },
  { to: '/audit', label: 'Audit log', icon: FileClock },
];

function Shell() {
  const overview = useApi<Overview>('/stats/overview', 10_000);
  const dlq = overview.data ? overview.data.openDeadLetters.invalid + overview.data.openDeadLetters.tx : 0;
  const p = overview.data?.paused;
  const anyPause = !!p && (p.global || p.chains.length > 0 || p.networks.length > 0);
  return (
    <div className="shell">
      <Sidebar dlq={dlq} paused={anyPause} />
      <main className="main" id="main">
        {p?.global && (
          <div className="pause-banner" role="alert">
            All withdrawals are paused. New requests are accepted and wait; nothing is signed until it is resumed.
          </div>
        )}
        <div className="content">
          <Routes>
            <Route path="/" element={<DashboardPage />} />
            <Route path="/withdrawals" element={<WithdrawalsPage />} />
            <Route path="/withdrawals/:id" element={<WithdrawalPage />} />
            <Route path="/dead-letters" element={<DeadLettersPage />} />
            <Route path="/dead-letters/:id" element={<DeadLetterPage />} />
            <Route path="/wallets" element={<WalletsPage />} />
            <Route path="/endpoints" element={<EndpointsPage />} />
            <Route path="/settings" element={<SettingsPage />} />
            <Route path="/users" element={<UsersPage />} />
            <Route path="/users/:userId" element={<UsersPage />} />
            <Route path="/access" element={<AccessPage />} />
            <Route path="/audit" element={<AuditPage />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </div>
      </main>
    </div>
  );
}

function Sidebar({ dlq, paused }: { dlq: number; paused: boolean }) {
  return (
    <nav className="sidebar" aria-label="Main">
      <div className="brand">
        <div className="brand-mark">
          <Activity size={16} />
        </div>
        <div>
          <div className="brand-name">Sluice</div>
          <div className="brand-sub">Operator console</div>
        </div>
      </div>
      <ul className="nav">
        {NAV.map((n) => (
          <li key={n.to}>
            <NavLink to={n.to} end={n.end} className={({ isActive }) => `nav-link ${isActive ? 'active' : ''}`}>
              <n.icon size={16} />
              <span>{n.label}</span>
              {n.badge === 'dlq' && dlq > 0 && <span className="nav-count">{dlq}</span>}
              {n.badge === 'paused' && paused && <Badge tone="warning">paused</Badge>}
            </NavLink>
          </li>
        ))}
      </ul>
      <UserBox />
    </nav>
  );
}

function UserBox() {
  return (
    <SessionContext.Consumer>
      {(s) =>
        s && (
          <div className="userbox">
            <div className="avatar">{s.user.username.slice(0, 1).toUpperCase()}</div>
            <div className="userbox-text">
              <div className="userbox-name" data-testid="current-user">{s.user.username}</div>
              <div className="userbox-role">{s.user.role}</div>
            </div>
            <button type="button" className="icon-btn" onClick={s.logout} aria-label="Sign out" title="Sign out">
              <LogOut size={15} />
            </button>
          </div>
        )
      }
    </SessionContext.Consumer>
  );
}

