import { useLive, useServices } from '../context';
import { navigate } from '../router';
import type { SessionUser } from '../session';

const LIVE_LABEL = {
  off: 'Live updates off',
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
} as const;

export function Header({ user }: { user: SessionUser | null }) {
  const { session } = useServices();
  return (
    <header className="top">
      <a
        href="/"
        className="brand"
        onClick={(e) => {
          e.preventDefault();
          navigate('/');
        }}
      >
        Entitle <span>demo</span>
      </a>
      {user && <SignedInBar email={user.email} onSignOut={() => void session.signOut()} />}
    </header>
  );
}

function SignedInBar({ email, onSignOut }: { email: string; onSignOut: () => void }) {
  const live = useLive();
  return (
    <div className="who">
      <span className={`live live-${live.state}`} data-testid="live-status" data-state={live.state}>
        {LIVE_LABEL[live.state]}
      </span>
      <span data-testid="signed-in-email">{email}</span>
      <button type="button" onClick={onSignOut} data-testid="sign-out">
        Sign out
      </button>
    </div>
  );
}
