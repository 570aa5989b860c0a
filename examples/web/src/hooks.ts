import { useEffect, useRef } from 'react';
import type { OperationContext } from 'urql';
import { useLive } from './context';

/**
 * Refetches a query from the network each time live updates say something
 * changed (a push, a reconnect after a gap, the Reload button).
 */
export function useRefetchOnLive(reexecute: (opts?: Partial<OperationContext>) => void): void {
  const { version } = useLive();
  const seen = useRef(version);
  useEffect(() => {
    if (version === seen.current) return;
    seen.current = version;
    reexecute({ requestPolicy: 'network-only' });
  }, [version, reexecute]);
}
