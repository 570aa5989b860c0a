// Hooks for the end-to-end test (tests/browser/spa.mjs), installed only when
// /config.json says "testHooks": true. Nothing here is reachable otherwise.

import type { ClientHolder } from './holder';
import type { Session } from './session';

export interface EntitleTestHooks {
  /** Spoils the in-memory access token, so the next request is refused. */
  expireAccessToken(): boolean;
  /** Closes the WebSocket as a network drop would; graphql-ws reconnects. */
  dropWebSocket(): boolean;
  /** Refreshes, retries and live-update counters. */
  stats(): {
    session: string;
    refreshes: number;
    refreshFailures: number;
    retries: number;
    refusedHandshakes: number;
    live: { state: string; version: number; reason: string; connects: number; pushes: number };
  };
}

declare global {
  interface Window {
    __entitleTest?: EntitleTestHooks;
  }
}

export function installTestHooks(session: Session, holder: ClientHolder): void {
  window.__entitleTest = {
    expireAccessToken: () => session.spoilAccessTokenForTest(),
    dropWebSocket: () => holder.getSnapshot().dropSocketForTest(),
    stats: () => ({
      session: session.getState().status,
      ...session.stats,
      live: { ...holder.getSnapshot().live.getSnapshot() },
    }),
  };
}
