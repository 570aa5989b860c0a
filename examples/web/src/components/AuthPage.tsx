import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { useServices } from '../context';
import { toAppError, type AppError } from '../errors';
import { LoginDocument, RegisterDocument } from '../operations';
import { navigate, useLocation } from '../router';
import { ErrorMessage } from './ErrorMessage';

export function AuthPage({ notice }: { notice: string | null }) {
  const { session } = useServices();
  const location = useLocation();
  const mode = location.path === '/signup' ? 'register' : 'login';
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<AppError | null>(null);
  const [registerState, register] = useMutation(RegisterDocument);
  const [loginState, login] = useMutation(LoginDocument);
  const busy = registerState.fetching || loginState.fetching;

  const switchTo = (to: 'register' | 'login') => {
    setError(null);
    navigate(to === 'register' ? '/signup' : '/signin', { replace: true });
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const variables = { email: email.trim(), password };
    if (mode === 'register') {
      const result = await register(variables);
      if (result.data) return enter(result.data.register);
      if (result.error) setError(toAppError(result.error));
    } else {
      const result = await login(variables);
      if (result.data) return enter(result.data.login);
      if (result.error) setError(toAppError(result.error));
    }
  };

  const enter = (payload: Parameters<typeof session.signIn>[0]) => {
    session.signIn(payload);
    // Stay on a deep link (e.g. /success); the sign-in pages lead home.
    if (location.path === '/signup' || location.path === '/signin') navigate('/', { replace: true });
  };

  return (
    <main className="auth">
      <h1>{mode === 'register' ? 'Create your account' : 'Sign in'}</h1>
      {notice && (
        <p className="notice" data-testid="session-notice">
          {notice}
        </p>
      )}
      <form onSubmit={submit} data-testid={mode === 'register' ? 'signup-form' : 'signin-form'}>
        <label>
          Email
          <input
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            data-testid="email-input"
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete={mode === 'register' ? 'new-password' : 'current-password'}
            required
            minLength={mode === 'register' ? 8 : undefined}
            maxLength={256}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="password-input"
          />
        </label>
        {mode === 'register' && <p className="hint">At least 8 characters.</p>}
        {error && <ErrorMessage error={error} context={mode} testId="auth-error" />}
        <button type="submit" className="primary" disabled={busy} data-testid="auth-submit">
          {busy ? 'Please wait…' : mode === 'register' ? 'Sign up' : 'Sign in'}
        </button>
      </form>
      {mode === 'login' && (
        <p className="switch">
          <a
            href="/forgot-password"
            onClick={(e) => {
              e.preventDefault();
              navigate('/forgot-password');
            }}
            data-testid="go-forgot"
          >
            Forgot your password?
          </a>
        </p>
      )}
      <p className="switch">
        {mode === 'register' ? (
          <>
            Already have an account?{' '}
            <button type="button" className="link" onClick={() => switchTo('login')} data-testid="go-signin">
              Sign in
            </button>
          </>
        ) : (
          <>
            New here?{' '}
            <button type="button" className="link" onClick={() => switchTo('register')} data-testid="go-signup">
              Create an account
            </button>
          </>
        )}
      </p>
    </main>
  );
}
