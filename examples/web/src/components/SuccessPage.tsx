import { useCallback, useEffect, useRef, useState } from 'react';
import { useMutation } from 'urql';
import { toAppError, type AppError } from '../errors';
import { setFlash } from '../flash';
import { capitalize, formatStatus } from '../format';
import { SyncCheckoutDocument } from '../operations';
import { navigate } from '../router';
import { ErrorMessage } from './ErrorMessage';

/**
 * Stripe's checkout redirects here (`/success?session_id=cs_…`). syncCheckout
 * stores the session's subscription at once, so the account shows the new
 * plan without waiting for the webhook; then the account page is shown.
 */
export function SuccessPage({ sessionId }: { sessionId: string | null }) {
  const [syncState, sync] = useMutation(SyncCheckoutDocument);
  const [error, setError] = useState<AppError | null>(null);
  const [unpaid, setUnpaid] = useState(false);
  const started = useRef(false);

  const run = useCallback(async () => {
    if (!sessionId) return;
    setError(null);
    setUnpaid(false);
    const result = await sync({ sessionId });
    if (result.error) {
      setError(toAppError(result.error));
      return;
    }
    const sub = result.data?.syncCheckout;
    if (!sub) {
      setUnpaid(true); // Stripe has not seen the payment (yet)
      return;
    }
    setFlash({
      message: sub.grantsAccess
        ? `Payment confirmed: you are on ${capitalize(sub.plan)}${sub.status === 'TRIALING' ? ' (free trial)' : ''}.`
        : `Checkout finished; the subscription is ${formatStatus(sub.status)}.`,
      plan: sub.grantsAccess ? sub.plan : null,
    });
    navigate('/', { replace: true });
  }, [sessionId, sync]);

  useEffect(() => {
    if (started.current) return; // StrictMode runs effects twice in development
    started.current = true;
    void run();
  }, [run]);

  return (
    <main className="success" data-testid="success-page">
      <h1>Finishing your upgrade…</h1>
      {!sessionId && <p data-testid="success-missing">This page needs a checkout session id.</p>}
      {syncState.fetching && <p className="muted">Confirming your payment with Stripe…</p>}
      {unpaid && (
        <p data-testid="success-unpaid">
          The payment is not complete yet.{' '}
          <button type="button" onClick={() => void run()}>
            Check again
          </button>
        </p>
      )}
      {error && <ErrorMessage error={error} context="sync" testId="sync-error" />}
      <p>
        <a
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate('/');
          }}
        >
          Back to your account
        </a>
      </p>
    </main>
  );
}
