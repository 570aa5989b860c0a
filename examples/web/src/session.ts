// The signed-in session: who the user is and the two tokens.
//
// - The access token lives in memory only (this module). A page load (a
//   reload, or the way back from Stripe's checkout page) starts without one
//   and trades the refresh token for a new pair first.
// - The refresh token lives in localStorage. Entitle's refresh tokens are
//   single use and a reused one revokes the whole session, so at most one
//   refresh runs at a time: one shared promise inside this tab, and a Web Lock
//   across the tabs of this origin (inside it the newest token is re-read
//   from localStorage, so a tab that lost the race uses the token the other
//   tab stored instead of replaying the spent one).
// - A refresh that Entitle refuses (UNAUTHENTICATED: spent, revoked or
//   expired) signs the user out.

import { stringifyDocument } from '@urql/core';
import type { TypedDocumentNode } from '@urql/core';
import { graphql } from './gql';
import type { AuthFieldsFragment } from './gql/graphql';

export const REFRESH_TOKEN_KEY = 'entitle.refreshToken';
const LOCK_NAME = 'entitle.refresh';

export const RefreshDocument = graphql(`
  mutation Refresh($refreshToken: String!) {
    refresh(refreshToken: $refreshToken) {
      ...AuthFields
    }
  }
`);

export const LogoutDocument = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(refreshToken: $refreshToken)
  }
`);

export const AuthFieldsDocument = graphql(`
  fragment AuthFields on AuthPayload {
    accessToken
    refreshToken
    expiresIn
    user {
      id
      email
    }
  }
`);

export interface SessionUser {
  id: string;
  email: string;
}

export type SessionState =
  | { status: 'restoring' }
  | { status: 'unreachable'; message: string }
  | { status: 'signedOut'; notice: string | null }
  | { status: 'signedIn'; user: SessionUser; epoch: number };

export interface GraphQLErrorLike {
  message: string;
  extensions?: Record<string, unknown>;
}

interface RawResult<T> {
  data?: T | null;
  errors?: GraphQLErrorLike[];
}

/** What the end-to-end test reads through window.__entitleTest. */
export interface SessionStats {
  refreshes: number;
  refreshFailures: number;
  /** HTTP requests sent again after a refresh. */
  retries: number;
  /** WebSocket handshakes Entitle refused. */
  refusedHandshakes: number;
}

type Outcome = { kind: 'ok'; payload: AuthFieldsFragment } | { kind: 'refused' } | { kind: 'unreachable'; message: string };

export class Session {
  private state: SessionState = { status: 'restoring' };
  private accessToken: string | null = null;
  /** When the access token expires (ms since the epoch), from `expiresIn`. */
  private accessExpiresAt = 0;
  /** Set when Entitle refused the access token on a WebSocket handshake. */
  private accessRejected = false;
  private inFlight: Promise<string | null> | null = null;
  private epoch = 0;
  private readonly listeners = new Set<() => void>();
  private readonly tokenListeners = new Set<(token: string) => void>();
  readonly stats: SessionStats = { refreshes: 0, refreshFailures: 0, retries: 0, refusedHandshakes: 0 };

  constructor(private readonly httpUrl: string) {
    // Another tab signed out (or its refresh was refused): follow it.
    window.addEventListener('storage', (e) => {
      if (e.key === REFRESH_TOKEN_KEY && e.newValue === null && this.state.status === 'signedIn') {
        this.clear('You signed out in another tab.');
      }
    });
  }

  // --- state for React (useSyncExternalStore) -----------------------------

  getState = (): SessionState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Called with the new access token after every successful refresh. */
  onTokenRefreshed(listener: (token: string) => void): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  private setState(next: SessionState): void {
    this.state = next;
    for (const l of this.listeners) l();
  }

  // --- start, sign in, sign out -------------------------------------------

  /** On page load: resume the session kept in localStorage, if any. */
  async restore(): Promise<void> {
    if (!readRefreshToken()) {
      this.setState({ status: 'signedOut', notice: null });
      return;
    }
    this.setState({ status: 'restoring' });
    await this.refresh(null);
  }

  /** After `register` or `login`. */
  signIn(payload: AuthFieldsFragment): void {
    this.store(payload);
    this.epoch += 1;
    this.setState({ status: 'signedIn', user: payload.user, epoch: this.epoch });
  }

  /** The user's sign-out: ends the session at Entitle too (best effort). */
  async signOut(): Promise<void> {
    const refreshToken = readRefreshToken();
    this.clear(null);
    if (refreshToken) {
      try {
        await this.raw(LogoutDocument, { refreshToken });
      } catch {
        // Entitle unreachable: the token stays valid server-side until it
        // expires, but this browser no longer has it.
      }
    }
  }

  private clear(notice: string | null): void {
    this.accessToken = null;
    this.accessExpiresAt = 0;
    this.accessRejected = false;
    localStorage.removeItem(REFRESH_TOKEN_KEY);
    this.epoch += 1;
    this.setState({ status: 'signedOut', notice });
  }

  private store(payload: AuthFieldsFragment): void {
    this.accessToken = payload.accessToken;
    this.accessExpiresAt = Date.now() + payload.expiresIn * 1000;
    this.accessRejected = false;
    localStorage.setItem(REFRESH_TOKEN_KEY, payload.refreshToken);
  }

  // --- tokens --------------------------------------------------------------

  getAccessToken(): string | null {
    return this.accessToken;
  }

  /**
   * The token to open a WebSocket with: refreshed first when it is about to
   * expire or Entitle refused it on the last handshake, since a connection
   * authenticates once.
   */
  async tokenForConnection(): Promise<string | null> {
    const token = this.accessToken;
    if (!token) return null;
    if (this.accessRejected || this.accessExpiresAt - Date.now() < 30_000) {
      return this.refresh(token);
    }
    return token;
  }

  /** The WebSocket handshake with this token was refused. */
  markRejected(token: string | null): void {
    this.stats.refusedHandshakes += 1;
    if (token !== null && token === this.accessToken) this.accessRejected = true;
  }

  /**
   * Trades the refresh token for a new pair and returns the new access token,
   * or null when there is none (signed out, or Entitle unreachable).
   *
   * `failedToken` is the access token a request was refused with: if the
   * session has moved on since (another request refreshed meanwhile), the
   * current token is returned without a second refresh. Concurrent callers
   * share one refresh.
   */
  refresh(failedToken: string | null): Promise<string | null> {
    // Signed out meanwhile (a request still in flight): nothing to refresh.
    if (this.state.status === 'signedOut') return Promise.resolve(null);
    if (failedToken !== null && this.accessToken !== null && this.accessToken !== failedToken) {
      return Promise.resolve(this.accessToken);
    }
    if (!this.inFlight) {
      this.inFlight = this.refreshOnce().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  private async refreshOnce(): Promise<string | null> {
    const outcome = await withRefreshLock(async (): Promise<Outcome> => {
      // Read inside the lock: another tab may have rotated it meanwhile.
      const refreshToken = readRefreshToken();
      if (!refreshToken) return { kind: 'refused' };
      let result: RawResult<{ refresh: AuthFieldsFragment }>;
      try {
        result = await this.raw(RefreshDocument, { refreshToken });
      } catch (e) {
        return { kind: 'unreachable', message: e instanceof Error ? e.message : String(e) };
      }
      const payload = result.data?.refresh;
      if (payload) {
        // Store before the lock is released, so the next tab reads this one.
        localStorage.setItem(REFRESH_TOKEN_KEY, payload.refreshToken);
        return { kind: 'ok', payload };
      }
      const code = result.errors?.[0]?.extensions?.['code'];
      if (code === 'UNAUTHENTICATED') return { kind: 'refused' };
      // RATE_LIMITED, INTERNAL…: keep the token, it has not been spent.
      return { kind: 'unreachable', message: result.errors?.[0]?.message ?? 'refresh failed' };
    });

    switch (outcome.kind) {
      case 'ok': {
        this.stats.refreshes += 1;
        this.store(outcome.payload);
        if (this.state.status !== 'signedIn') {
          this.epoch += 1;
          this.setState({ status: 'signedIn', user: outcome.payload.user, epoch: this.epoch });
        }
        for (const l of this.tokenListeners) l(outcome.payload.accessToken);
        return outcome.payload.accessToken;
      }
      case 'refused':
        this.stats.refreshFailures += 1;
        this.clear('Your session has ended. Please sign in again.');
        return null;
      case 'unreachable':
        this.stats.refreshFailures += 1;
        if (this.state.status === 'restoring') {
          this.setState({ status: 'unreachable', message: outcome.message });
        }
        return null;
    }
  }

  /**
   * One GraphQL request outside the client (refresh and logout must not go
   * through the client's own refresh-and-retry). Throws on network failure.
   */
  private async raw<TData, TVars>(
    document: TypedDocumentNode<TData, TVars>,
    variables: TVars,
  ): Promise<RawResult<TData>> {
    const res = await fetch(this.httpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
      },
      body: JSON.stringify({ query: stringifyDocument(document), variables }),
    });
    const body = (await res.json()) as RawResult<TData>;
    return body;
  }

  // --- test hooks ------------------------------------------------------------

  /** Makes the in-memory access token invalid (its signature no longer matches). */
  spoilAccessTokenForTest(): boolean {
    if (!this.accessToken) return false;
    const last = this.accessToken.slice(-4);
    this.accessToken = this.accessToken.slice(0, -4) + (last === 'AAAA' ? 'BBBB' : 'AAAA');
    return true;
  }
}

function readRefreshToken(): string | null {
  return localStorage.getItem(REFRESH_TOKEN_KEY);
}

async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  // Web Locks exist in every current browser on secure origins (https and
  // http://localhost / 127.0.0.1); elsewhere only this tab is serialised.
  if (typeof navigator !== 'undefined' && navigator.locks) {
    return navigator.locks.request(LOCK_NAME, { mode: 'exclusive' }, fn);
  }
  return fn();
}
