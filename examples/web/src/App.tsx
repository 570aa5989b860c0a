import { useEffect, useSyncExternalStore } from 'react';
import { Provider } from 'urql';
import { useClients, useServices } from './context';
import { navigate, useLocation } from './router';
import { AccountPage } from './components/AccountPage';
import { AuthPage } from './components/AuthPage';
import { Header } from './components/Header';
import { LiveUpdates } from './components/LiveUpdates';
import { SuccessPage } from './components/SuccessPage';

export function App() {
  const { session } = useServices();
  const clients = useClients();
  const state = useSyncExternalStore(session.subscribe, session.getState);

  return (
    <Provider value={clients.urql}>
      <Header user={state.status === 'signedIn' ? state.user : null} />
      {state.status === 'restoring' && (
        <main className="center" data-testid="restoring">
          <p className="muted">Signing you in…</p>
        </main>
      )}
      {state.status === 'unreachable' && (
        <main className="center" data-testid="unreachable">
          <div className="error" role="alert" data-testid="error" data-code="NETWORK">
            <strong>Cannot reach Entitle.</strong>
            <span className="error-detail">{state.message}</span>
          </div>
          <button type="button" onClick={() => void session.restore()}>
            Try again
          </button>
        </main>
      )}
      {state.status === 'signedOut' && <AuthPage notice={state.notice} />}
      {state.status === 'signedIn' && (
        <>
          <LiveUpdates key={state.epoch} />
          <SignedInRoutes />
        </>
      )}
    </Provider>
  );
}

function SignedInRoutes() {
  const location = useLocation();
  switch (location.path) {
    case '/':
      return <AccountPage />;
    case '/success':
      return <SuccessPage sessionId={location.search.get('session_id')} />;
    case '/signin':
    case '/signup':
      return <Redirect to="/" />;
    default:
      return (
        <main className="center" data-testid="not-found">
          <h1>Not found</h1>
          <p>
            <a
              href="/"
              onClick={(e) => {
                e.preventDefault();
                navigate('/');
              }}
            >
              Go to your account
            </a>
          </p>
        </main>
      );
  }
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
