// A one-line notice carried across an in-app navigation (e.g. "payment
// confirmed" from /success to the account page). One tied to a plan goes
// away once that plan is no longer in effect.

import { useSyncExternalStore } from 'react';

export interface Flash {
  message: string;
  /** The plan the notice is about, if any. */
  plan: string | null;
}

let current: Flash | null = null;
const listeners = new Set<() => void>();

export function setFlash(next: Flash | null): void {
  current = next;
  for (const l of listeners) l();
}

export function useFlash(): Flash | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}
