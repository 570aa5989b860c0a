// The pages behind Entitle's mails: ask for a reset link, set a new password
// from one (/reset-password?token=…), verify an address (/verify-email?token=…).
// They work signed in or out, since a link is opened wherever the mail is read.

import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useMutation } from 'urql';
import { useServices } from '../context';
import { toAppError, type AppError } from '../errors';
import { setFlash } from '../flash';
import { RequestPasswordResetDocument, ResetPasswordDocument, VerifyEmailDocument } from '../operations';
import { navigate } from '../router';
import { ErrorMessage } from './ErrorMessage';

function AppLink({ to, children, testId }: { to: string; children: ReactNode; testId?: string }) {
  return (
    <a
      href={to}
      data-testid={testId}
      onClick={(e) => {
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [state, request] = useMutation(RequestPasswordResetDocument);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const result = await request({ email: email.trim() });
    if (result.error) setError(toAppError(result.error));
    else setSent(true);
  };

  return (
    <main className="auth" data-testid="forgot-page">
      <h1>Reset your password</h1>
      {sent ? (
        // Entitle answers the same whether or not the address has an account.
        <p className="notice" data-testid="reset-requested">
          If an account uses {email.trim()}, a link to set a new password is on its way. It works once, for 30
          minutes.
        </p>
      ) : (
        <form onSubmit={submit} data-testid="forgot-form">
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
          {error && <ErrorMessage error={error} context="reset" testId="forgot-error" />}
          <button type="submit" className="primary" disabled={state.fetching} data-testid="forgot-submit">
            {state.fetching ? 'Please wait…' : 'Send the link'}
          </button>
        </form>
      )}
      <p className="switch">
        <AppLink to="/signin">Back to sign-in</AppLink>
      </p>
    </main>
  );
}

export function ResetPasswordPage({ token }: { token: string | null }) {
  const { session } = useServices();
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [state, reset] = useMutation(ResetPasswordDocument);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const result = await reset({ token: token ?? '', newPassword: password });
    if (result.error) {
      setError(toAppError(result.error));
      return;
    }
    // Entitle has signed out every session of the account, this one too.
    if (session.getState().status === 'signedIn') await session.signOut();
    setDone(true);
  };

  return (
    <main className="auth" data-testid="reset-page">
      <h1>Choose a new password</h1>
      {done ? (
        <p className="notice" data-testid="reset-done">
          Your password is changed and every session is signed out.{' '}
          <AppLink to="/signin" testId="reset-signin">
            Sign in
          </AppLink>{' '}
          with the new one.
        </p>
      ) : (
        <form onSubmit={submit} data-testid="reset-form">
          <label>
            New password
            <input
              type="password"
              autoComplete="new-password"
              required
              minLength={8}
              maxLength={256}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              data-testid="password-input"
            />
          </label>
          <p className="hint">At least 8 characters.</p>
          {error && <ErrorMessage error={error} context="reset" testId="reset-error" />}
          <button type="submit" className="primary" disabled={state.fetching || !token} data-testid="reset-submit">
            {state.fetching ? 'Please wait…' : 'Set the password'}
          </button>
        </form>
      )}
      {error && (
        <p className="switch">
          <AppLink to="/forgot-password">Ask for a new link</AppLink>
        </p>
      )}
    </main>
  );
}

export function VerifyEmailPage({ token, signedIn }: { token: string | null; signedIn: boolean }) {
  const [verified, setVerified] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [, verify] = useMutation(VerifyEmailDocument);
  const started = useRef(false);

  useEffect(() => {
    if (started.current || !token) return; // StrictMode runs effects twice in development
    started.current = true;
    void verify({ token }).then((result) => {
      if (result.error) setError(toAppError(result.error));
      else setVerified(true);
    });
  }, [token, verify]);

  useEffect(() => {
    if (verified && signedIn) {
      setFlash({ message: 'Your email address is verified.', plan: null });
      navigate('/', { replace: true });
    }
  }, [verified, signedIn]);

  return (
    <main className="center" data-testid="verify-page">
      <h1>Verify your email</h1>
      {!token && <p className="muted">This link has no token.</p>}
      {token && !verified && !error && <p className="muted">Verifying…</p>}
      {verified && (
        <p className="notice" data-testid="verify-done">
          Your email address is verified. <AppLink to="/signin">Sign in</AppLink>
        </p>
      )}
      {error && <ErrorMessage error={error} context="verify" testId="verify-error" />}
    </main>
  );
}
