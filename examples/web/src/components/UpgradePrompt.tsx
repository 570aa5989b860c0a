import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { toAppError, type AppError } from '../errors';
import { capitalize, formatName } from '../format';
import { CreateCheckoutDocument, PlansDocument } from '../operations';
import { leaveTo } from '../router';
import { ErrorMessage } from './ErrorMessage';
import { ManageBilling } from './ManageBilling';

/**
 * What ENTITLEMENT_REQUIRED offers: the plans that have the feature
 * (`extensions.plans`), each with a button to Stripe Checkout. Entitle gives
 * a plan's trial to a first subscription only, hence `offerTrial`.
 */
export function UpgradePrompt({
  plans,
  feature,
  message,
  offerTrial,
}: {
  plans: string[];
  feature: string;
  message: string;
  offerTrial: boolean;
}) {
  const [catalog] = useQuery({ query: PlansDocument });
  const [checkoutState, checkout] = useMutation(CreateCheckoutDocument);
  const [error, setError] = useState<AppError | null>(null);
  const [pending, setPending] = useState<string | null>(null);

  const upgrade = async (plan: string) => {
    setError(null);
    setPending(plan);
    const origin = window.location.origin;
    const result = await checkout({
      plan,
      interval: 'MONTHLY',
      // Stripe fills in {CHECKOUT_SESSION_ID}; the success page syncs it.
      successUrl: `${origin}/success?session_id={CHECKOUT_SESSION_ID}`,
      cancelUrl: `${origin}/`,
    });
    if (result.data) {
      leaveTo(result.data.createCheckout.url); // Stripe's hosted checkout page
      return;
    }
    setPending(null);
    if (result.error) setError(toAppError(result.error));
  };

  return (
    <div className="upgrade" data-testid="upgrade-prompt" data-feature={feature}>
      <p>
        <strong>{feature ? `${capitalize(formatName(feature))} is not on your plan.` : 'This is not on your plan.'}</strong>{' '}
        <span className="muted" data-testid="upgrade-reason">
          {message}
        </span>
      </p>
      <p>Upgrade to one of these plans to unlock it:</p>
      <ul className="plans" data-testid="upgrade-plans">
        {plans.map((name) => {
          const info = catalog.data?.plans.find((p) => p.name === name);
          return (
            <li key={name} data-testid={`upgrade-plan-${name}`}>
              <div>
                <span className="plan">{name}</span>
                {offerTrial && info?.trialDays ? <span className="badge">{info.trialDays}-day free trial</span> : null}
                {info && <div className="muted small">{info.features.map(formatName).join(' · ')}</div>}
              </div>
              <button
                type="button"
                className="primary"
                disabled={pending !== null || checkoutState.fetching}
                onClick={() => void upgrade(name)}
                data-testid="upgrade-button"
                data-plan={name}
              >
                {pending === name ? 'Opening checkout…' : `Upgrade to ${capitalize(name)}`}
              </button>
            </li>
          );
        })}
      </ul>
      {error && <ErrorMessage error={error} context="checkout" testId="checkout-error" />}
      {error?.code === 'CONFLICT' && <ManageBilling />}
    </div>
  );
}
