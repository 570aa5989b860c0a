import { useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { useClients } from '../context';
import { toAppError } from '../errors';
import { useFlash, setFlash } from '../flash';
import { capitalize, formatDate, formatName, formatStatus } from '../format';
import { useRefetchOnLive } from '../hooks';
import { AccountDocument, RequestEmailVerificationDocument } from '../operations';
import type { AccountQuery } from '../gql/graphql';
import { AnalyticsPanel } from './AnalyticsPanel';
import { ErrorMessage } from './ErrorMessage';
import { ManageBilling } from './ManageBilling';

export function AccountPage() {
  const [result, reexecute] = useQuery({ query: AccountDocument });
  useRefetchOnLive(reexecute);
  const flash = useFlash();
  const { live } = useClients();
  const { data, error, fetching } = result;
  const planInEffect = data?.entitlements.plan;

  // "You are on Pro" no longer holds once Pro is gone (canceled elsewhere…).
  useEffect(() => {
    if (flash?.plan && planInEffect && planInEffect !== flash.plan) setFlash(null);
  }, [flash, planInEffect]);

  return (
    <main className="account" data-testid="account-page">
      {flash && (
        <div className="flash" data-testid="flash">
          {flash.message}
          <button type="button" className="link" onClick={() => setFlash(null)} aria-label="Dismiss">
            ×
          </button>
        </div>
      )}
      <div className="toolbar">
        <h1>Your account</h1>
        <button
          type="button"
          onClick={() => live.bump('manual')}
          disabled={fetching}
          data-testid="reload"
        >
          {fetching ? 'Loading…' : 'Reload'}
        </button>
      </div>
      {error && <ErrorMessage error={toAppError(error)} context="load" testId="account-error" />}
      {data && (
        <>
          <div className="grid">
            <SubscriptionCard data={data} />
            <EntitlementsCard entitlements={data.entitlements} />
          </div>
          <AnalyticsPanel plan={data.entitlements.plan} everSubscribed={data.subscription !== null} />
        </>
      )}
      {!data && !error && <p className="muted">Loading your account…</p>}
    </main>
  );
}

function SubscriptionCard({ data }: { data: AccountQuery }) {
  const sub = data.subscription;
  return (
    <section className="card" data-testid="subscription-card">
      <h2>Subscription</h2>
      <dl>
        <dt>Email</dt>
        <dd data-testid="account-email">{data.me?.email ?? '—'}</dd>
        {data.me && (
          <>
            <dt>Address</dt>
            <dd data-testid="email-verified" data-verified={String(data.me.emailVerified)}>
              {data.me.emailVerified ? 'verified' : <ResendVerification />}
            </dd>
          </>
        )}
        <dt>Plan</dt>
        <dd>
          <span className="plan" data-testid="plan">
            {data.entitlements.plan}
          </span>
        </dd>
        <dt>Status</dt>
        <dd>
          <span
            className={`status status-${sub ? sub.status.toLowerCase() : 'none'}`}
            data-testid="subscription-status"
            data-status={sub?.status ?? 'NONE'}
          >
            {sub ? formatStatus(sub.status) : 'no subscription'}
          </span>
        </dd>
        {sub && (
          <>
            <dt>Subscribed plan</dt>
            <dd data-testid="subscription-plan">
              {sub.plan}
              {sub.interval ? ` (${sub.interval.toLowerCase()})` : ''}
            </dd>
            {sub.trialEnd && sub.status === 'TRIALING' && (
              <>
                <dt>Trial ends</dt>
                <dd data-testid="trial-end">{formatDate(sub.trialEnd)}</dd>
              </>
            )}
            {sub.status !== 'CANCELED' && sub.status !== 'INCOMPLETE_EXPIRED' && (
              <>
                <dt>{sub.cancelAtPeriodEnd || sub.cancelAt ? 'Ends' : 'Current period ends'}</dt>
                <dd data-testid="period-end" data-value={sub.cancelAt ?? sub.currentPeriodEnd ?? ''}>
                  {formatDate(sub.cancelAt ?? sub.currentPeriodEnd)}
                </dd>
              </>
            )}
            {(sub.cancelAtPeriodEnd || sub.cancelAt) && sub.status !== 'CANCELED' && (
              <dd className="warning" data-testid="cancel-at-period-end">
                Set to cancel: you keep {capitalize(sub.plan)} until then.
              </dd>
            )}
            <dt>Subscription id</dt>
            <dd>
              <code data-testid="subscription-id">{sub.id}</code>
            </dd>
          </>
        )}
      </dl>
      {sub && <ManageBilling />}
    </section>
  );
}

/** Not verified yet: the link from sign-up, or a new one. */
function ResendVerification() {
  const [state, request] = useMutation(RequestEmailVerificationDocument);
  const [sent, setSent] = useState(false);
  if (sent) return <span data-testid="verification-sent">not verified: a new link is on its way</span>;
  return (
    <>
      not verified (see the link we mailed){' '}
      <button
        type="button"
        className="link"
        disabled={state.fetching}
        onClick={() => void request({}).then((r) => setSent(!r.error))}
        data-testid="resend-verification"
      >
        send it again
      </button>
    </>
  );
}

function EntitlementsCard({ entitlements }: { entitlements: AccountQuery['entitlements'] }) {
  return (
    <section className="card" data-testid="entitlements-card" data-plan={entitlements.plan}>
      <h2>Features and limits</h2>
      <h3>Features</h3>
      {entitlements.features.length ? (
        <ul className="features" data-testid="features">
          {entitlements.features.map((f) => (
            <li key={f} data-testid={`feature-${f}`}>
              {formatName(f)}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted" data-testid="features">
          None on the {entitlements.plan} plan.
        </p>
      )}
      <h3>Limits</h3>
      <table className="limits">
        <tbody>
          {entitlements.limits.map((l) => (
            <tr key={l.name} data-testid={`limit-${l.name}`}>
              <th>{formatName(l.name)}</th>
              <td>{l.unlimited ? 'unlimited' : (l.value ?? 0).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
