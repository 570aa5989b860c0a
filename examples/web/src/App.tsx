import { useEffect, useSyncExternalStore } from 'react';
import { Provider } from 'urql';
import { useClients, useServices } from './context';
import { navigate, useLocation } from './router';
import { AccountPage } from './components/AccountPage';
import { AuthPage } from './components/AuthPage';
import { Header } from './components/Header';
import { LiveUpdates } from './components/LiveUpdates';
import { ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage } from './components/RecoveryPages';
import { SuccessPage } from './components/SuccessPage';

export function App() {
  const { session } = useServices();
  const clients = useClients();
  const state = useSyncExternalStore(session.subscribe, session.getState);
  const location = useLocation();
  const signedIn = state.status === 'signedIn';
  const mailPage = pageFromMail({ path: location.path, search: location.search, signedIn });

  return (
    <Provider value={clients.urql}>
      <Header user={state.status === 'signedIn' ? state.user : null} />
      {state.status === 'signedIn' && <LiveUpdates key={state.epoch} />}
      {mailPage}
      {!mailPage && state.status === 'restoring' && (
        <main className="center" data-testid="restoring">
          <p className="muted">Signing you in…</p>
        </main>
      )}
      {!mailPage && state.status === 'unreachable' && (
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
      {!mailPage && state.status === 'signedOut' && <AuthPage notice={state.notice} />}
      {!mailPage && signedIn && <SignedInRoutes />}
    </Provider>
  );
}

/** The pages that mails link to, shown signed in or out; null elsewhere. */
function pageFromMail({ path, search, signedIn }: { path: string; search: URLSearchParams; signedIn: boolean }) {
  switch (path) {
    case '/forgot-password':
      return <ForgotPasswordPage />;
    case '/reset-password':
      return <ResetPasswordPage token={search.get('token')} />;
    case '/verify-email':
      return <VerifyEmailPage token={search.get('token')} signedIn={signedIn} />;
    default:
      return null;
  }
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
