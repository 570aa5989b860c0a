// The GraphQL clients of one session: urql over HTTP, graphql-ws for
// subscriptions. A new pair is made at each sign-in and sign-out, so no
// cached answer of one user is ever shown to the next.

import { Client, cacheExchange, fetchExchange } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import type { Endpoints } from './config';
import type { Session } from './session';
import { LiveStatus } from './live';

/**
 * `fetch` for urql: sends the access token, and when Entitle answers
 * UNAUTHENTICATED to a request that carried one, refreshes the session once
 * (shared with every other request failing at the same moment) and retries
 * the request once with the new token. A refresh that is refused signs the
 * user out (in Session), and the original answer is passed on.
 */
export function authFetch(session: Session): typeof fetch {
  return async (input, init) => {
    const token = session.getAccessToken();
    const first = await fetch(input, withToken(init, token));
    if (token === null) return first;
    const text = await first.text();
    const copy = () =>
      new Response(text, { status: first.status, statusText: first.statusText, headers: first.headers });
    if (!isUnauthenticated(text)) return copy();
    const fresh = await session.refresh(token);
    if (fresh === null) return copy();
    session.stats.retries += 1;
    return fetch(input, withToken(init, fresh));
  };
}

function withToken(init: RequestInit | undefined, token: string | null): RequestInit {
  const headers = new Headers(init?.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  else headers.delete('authorization');
  return { ...init, headers };
}

function isUnauthenticated(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { errors?: { extensions?: { code?: unknown } }[] };
    return parsed.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED') ?? false;
  } catch {
    return false;
  }
}

export interface Clients {
  urql: Client;
  ws: WsClient;
  live: LiveStatus;
  /** Test hook: closes the socket as a network drop would (graphql-ws reconnects). */
  dropSocketForTest(): boolean;
  dispose(): void;
}

export function createClients(endpoints: Endpoints, session: Session): Clients {
  const live = new LiveStatus();

  const urql = new Client({
    url: endpoints.http,
    fetch: authFetch(session),
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    exchanges: [cacheExchange, fetchExchange],
  });

  // graphql-ws authenticates once per connection (connectionParams). After a
  // refresh the open connection is restarted with the new token; a handshake
  // Entitle refuses marks the token, so the retry refreshes first.
  let socket: WebSocket | null = null;
  let acknowledged = false;
  let connectedWith: string | null = null;
  let pendingToken: string | null = null;
  let everConnected = false;

  const restartIfStale = () => {
    const current = session.getAccessToken();
    if (socket && socket.readyState === WebSocket.OPEN && acknowledged && current && current !== connectedWith) {
      socket.close(4205, 'Client Restart: fresh token');
    }
  };

  const ws = createWsClient({
    url: endpoints.ws,
    lazy: true,
    lazyCloseTimeout: 0,
    retryAttempts: 30,
    shouldRetry: () => true,
    // Quicker than the default (1 s, 2 s, 4 s… plus up to 3 s of jitter): a
    // restart for a fresh token should not leave a gap of seconds.
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 15_000) + Math.random() * 250)),
    connectionParams: async () => {
      const token = await session.tokenForConnection();
      pendingToken = token;
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    on: {
      connecting: () => live.set(everConnected ? 'reconnecting' : 'connecting'),
      opened: (s) => {
        socket = s as WebSocket;
        acknowledged = false;
      },
      connected: () => {
        acknowledged = true;
        connectedWith = pendingToken;
        // Anything pushed while the socket was down is lost: catch up.
        if (everConnected) live.bump('reconnected');
        everConnected = true;
        live.set('connected');
        live.countConnect();
        restartIfStale();
      },
      closed: (event) => {
        const code = (event as CloseEvent | undefined)?.code;
        // Closed during the handshake by Entitle refusing connection_init
        // (async-graphql closes with 1002 and "invalid or expired access
        // token"; 4401/4403 are graphql-ws's own codes for it): the token was
        // not accepted, so the next attempt refreshes first.
        if (!acknowledged && pendingToken !== null && (code === 1002 || code === 4401 || code === 4403)) {
          session.markRejected(pendingToken);
        }
        socket = null;
        acknowledged = false;
        live.set(disposed || code === 1000 ? 'off' : 'reconnecting');
      },
    },
  });

  let disposed = false;
  const unlisten = session.onTokenRefreshed(() => restartIfStale());

  return {
    urql,
    ws,
    live,
    dropSocketForTest() {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.close(3000, 'Test: connection dropped');
      return true;
    },
    dispose() {
      disposed = true;
      unlisten();
      void ws.dispose();
      live.set('off');
    },
  };
}
