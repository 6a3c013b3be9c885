// The shell: sign-in when there is no session, else the menu (only the pages the user may open)
// and the page for the current path.
import type { ReactNode } from 'react';
import type { RuntimeConfig } from './api';
import { AccountPage } from './pages/account';
import { ApiKeysPage } from './pages/api-keys';
import { AuditPage } from './pages/audit';
import { DeploymentDetailPage } from './pages/deployment-detail';
import { DeploymentsPage } from './pages/deployments';
import { GuardrailsPage } from './pages/guardrails';
import { KnowledgeBasePage, KnowledgeBasesPage } from './pages/knowledge';
import { LoginPage } from './pages/login';
import { ModelsPage } from './pages/models';
import { PoolsPage } from './pages/pools';
import { ProvidersPage } from './pages/providers';
import { TemplatesPage } from './pages/templates';
import { UsagePage } from './pages/usage';
import { UsersPage } from './pages/users';
import { Link, Redirect, matchPath, useLocation } from './router';
import { SessionProvider, useSession } from './session';
import { Button, Loading, ToastProvider } from './ui';

const ROUTES: { pattern: string; render: (params: Record<string, string>) => ReactNode }[] = [
  { pattern: '/deployments', render: () => <DeploymentsPage /> },
  { pattern: '/deployments/:id', render: (p) => <DeploymentDetailPage id={p.id!} /> },
  { pattern: '/pools', render: () => <PoolsPage /> },
  { pattern: '/pools/:id', render: (p) => <PoolsPage selected={p.id} /> },
  { pattern: '/models', render: () => <ModelsPage /> },
  { pattern: '/usage', render: () => <UsagePage /> },
  { pattern: '/api-keys', render: () => <ApiKeysPage /> },
  { pattern: '/knowledge-bases', render: () => <KnowledgeBasesPage /> },
  { pattern: '/knowledge-bases/:id', render: (p) => <KnowledgeBasePage id={p.id!} /> },
  { pattern: '/prompt-templates', render: () => <TemplatesPage /> },
  { pattern: '/guardrails', render: () => <GuardrailsPage /> },
  { pattern: '/providers', render: () => <ProvidersPage /> },
  { pattern: '/users', render: () => <UsersPage /> },
  { pattern: '/audit', render: () => <AuditPage /> },
  { pattern: '/account', render: () => <AccountPage /> },
];

export function App({ config }: { config: RuntimeConfig }) {
  return (
    <ToastProvider>
      <SessionProvider config={config}>{({ ready }) => (ready ? <Shell /> : <Loading what="your session" />)}</SessionProvider>
    </ToastProvider>
  );
}

function Shell() {
  const { me, perms, logout } = useSession();
  const { path, search } = useLocation();
  if (!me) {
    if (path !== '/login') return <Redirect to={`/login${path !== '/' ? `?next=${encodeURIComponent(path)}` : ''}`} />;
    return <LoginPage next={search.get('next')} />;
  }
  if (path === '/' || path === '/login') return <Redirect to={search.get('next') && perms.mayOpen(search.get('next')!) ? search.get('next')! : perms.home()} />;

  let page: ReactNode = <NotFound />;
  for (const r of ROUTES) {
    const params = matchPath(r.pattern, path);
    if (params) {
      page = perms.mayOpen(path) ? r.render(params) : <Forbidden />;
      break;
    }
  }
  const groups = ['Operate', 'Policy', 'Organisation'] as const;
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            I
          </span>
          Inferia
        </div>
        <nav aria-label="Main">
          {groups.map((g) => {
            const items = perms.nav().filter((n) => n.group === g);
            if (items.length === 0) return null;
            return (
              <div key={g} className="nav-group">
                <div className="nav-title">{g}</div>
                {items.map((n) => (
                  <Link key={n.path} to={n.path} className={path === n.path || path.startsWith(`${n.path}/`) ? 'active' : undefined}>
                    {n.label}
                  </Link>
                ))}
              </div>
            );
          })}
        </nav>
        <div className="whoami">
          <div title={me.email}>{me.email}</div>
          <div className="muted">
            role <b data-testid="role">{me.role}</b>
            {me.totp_enabled ? ' · 2FA on' : ''}
          </div>
          <Button kind="ghost" onClick={() => void logout()}>
            Sign out
          </Button>
        </div>
      </aside>
      <main className="content">{page}</main>
    </div>
  );
}

function NotFound() {
  return (
    <div className="center-note">
      <h1>Not found</h1>
      <p>
        No page here. <Link to="/">Go to the start</Link>.
      </p>
    </div>
  );
}

function Forbidden() {
  return (
    <div className="center-note">
      <h1>Not allowed</h1>
      <p>Your role cannot open this page.</p>
    </div>
  );
}
