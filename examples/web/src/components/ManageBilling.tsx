import { useState } from 'react';
import { useMutation } from 'urql';
import { toAppError, type AppError } from '../errors';
import { CreatePortalDocument } from '../operations';
import { leaveTo } from '../router';
import { ErrorMessage } from './ErrorMessage';

/** Opens Stripe's customer portal (cancel, resume, switch plan), which links back here. */
export function ManageBilling() {
  const [portalState, portal] = useMutation(CreatePortalDocument);
  const [error, setError] = useState<AppError | null>(null);

  const open = async () => {
    setError(null);
    const result = await portal({ returnUrl: `${window.location.origin}/` });
    if (result.data) {
      leaveTo(result.data.createPortal.url);
      return;
    }
    if (result.error) setError(toAppError(result.error));
  };

  return (
    <div className="manage">
      <button type="button" onClick={() => void open()} disabled={portalState.fetching} data-testid="manage-billing">
        {portalState.fetching ? 'Opening…' : 'Manage billing'}
      </button>
      {error && <ErrorMessage error={error} context="portal" testId="portal-error" />}
    </div>
  );
}
