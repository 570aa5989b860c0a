import { useEffect, useState } from 'react';
import { stringifyDocument } from 'urql';
import { useClients, useServices } from '../context';
import { EntitlementsChangedDocument } from '../operations';
import type { EntitlementsChangedSubscription } from '../gql/graphql';

/**
 * Subscribes to `entitlementsChanged` while signed in; each push bumps the
 * live version, which makes the account and usage queries refetch. If the
 * subscription ends (Entitle refused it, the socket gave up), it is opened
 * again after a pause, refreshing the session first when the token was the
 * reason.
 */
export function LiveUpdates() {
  const { ws, live } = useClients();
  const { session } = useServices();
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const again = (refreshFirst: boolean) => {
      if (stopped) return;
      const token = session.getAccessToken();
      const wait = Math.min(1000 * 2 ** Math.min(attempt, 5), 30_000);
      timer = setTimeout(async () => {
        if (refreshFirst) await session.refresh(token);
        if (!stopped) setAttempt((n) => n + 1);
      }, refreshFirst ? 0 : wait);
    };
    const unsubscribe = ws.subscribe<EntitlementsChangedSubscription>(
      { query: stringifyDocument(EntitlementsChangedDocument) },
      {
        next: (result) => {
          if (result.data?.entitlementsChanged) {
            live.bump('push');
          } else if (result.errors?.length) {
            const unauthenticated = result.errors.some((e) => e.extensions?.['code'] === 'UNAUTHENTICATED');
            again(unauthenticated);
          }
        },
        // GraphQL errors (the operation was refused), or the CloseEvent of a
        // socket graphql-ws gave up on (a refused handshake is fatal to it; the
        // client then knows to refresh before the next connection).
        error: (err) => {
          const unauthenticated =
            Array.isArray(err) && err.some((e) => e?.extensions?.['code'] === 'UNAUTHENTICATED');
          again(unauthenticated);
        },
        complete: () => again(false),
      },
    );
    return () => {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
    };
  }, [ws, live, session, attempt]);

  return null;
}
