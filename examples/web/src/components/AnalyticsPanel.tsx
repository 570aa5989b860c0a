import { useEffect, useRef } from 'react';
import { useQuery } from 'urql';
import { planList, toAppError } from '../errors';
import { formatDate, formatName } from '../format';
import { useRefetchOnLive } from '../hooks';
import { UsageDocument } from '../operations';
import { ErrorMessage } from './ErrorMessage';
import { UpgradePrompt } from './UpgradePrompt';

/**
 * Guarded by `advanced_analytics`: Entitle answers `usage` with
 * ENTITLEMENT_REQUIRED (and the plans that have it) on plans without it, and
 * the panel offers those plans instead.
 */
export function AnalyticsPanel({ plan, everSubscribed }: { plan: string; everSubscribed: boolean }) {
  const [result, reexecute] = useQuery({ query: UsageDocument });
  useRefetchOnLive(reexecute);

  // The plan in effect changed: what the panel may show changed with it.
  const lastPlan = useRef(plan);
  useEffect(() => {
    if (lastPlan.current === plan) return;
    lastPlan.current = plan;
    reexecute({ requestPolicy: 'network-only' });
  }, [plan, reexecute]);

  const error = result.error ? toAppError(result.error) : null;
  const locked = error?.code === 'ENTITLEMENT_REQUIRED';
  const state = result.data ? 'unlocked' : locked ? 'locked' : error ? 'error' : 'loading';

  return (
    <section className={`card analytics analytics-${state}`} data-testid="analytics-panel" data-state={state}>
      <h2>Analytics</h2>
      {state === 'loading' && <p className="muted">Loading usage…</p>}
      {error && locked && (
        <UpgradePrompt
          plans={planList(error)}
          feature={String(error.extensions['feature'] ?? '')}
          message={error.message}
          offerTrial={!everSubscribed}
        />
      )}
      {error && !locked && <ErrorMessage error={error} context="load" testId="analytics-error" />}
      {result.data && (
        <div data-testid="usage">
          <p className="muted" data-testid="usage-period">
            {result.data.usage.periodStart
              ? `Billing period ${formatDate(result.data.usage.periodStart)} – ${formatDate(result.data.usage.periodEnd)}`
              : 'No billing period'}
          </p>
          <table className="usage">
            <thead>
              <tr>
                <th>Limit</th>
                <th>Used</th>
                <th>Of</th>
                <th aria-label="share" />
              </tr>
            </thead>
            <tbody>
              {result.data.usage.limits.map((l) => (
                <tr key={l.name} data-testid={`usage-${l.name}`}>
                  <th>{formatName(l.name)}</th>
                  <td>{l.used === null ? 'not measured' : l.used.toLocaleString()}</td>
                  <td>{l.limit === null ? 'unlimited' : l.limit.toLocaleString()}</td>
                  <td>
                    {l.used !== null && l.limit !== null && l.limit > 0 && (
                      <meter min={0} max={l.limit} value={l.used} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
