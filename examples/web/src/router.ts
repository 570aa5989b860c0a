// Path routing with the History API. Every route is a real path (Stripe's
// success_url lands on /success?session_id=…), so the static server must
// answer index.html for any path that is not a file: `vite` and
// `vite preview` do, and so does the test harness. Assets and /config.json
// are fetched by absolute path, so a deep link loads the same files.

import { useSyncExternalStore } from 'react';

const EVENT = 'app:navigate';

export interface Location {
  path: string;
  search: URLSearchParams;
}

let cached: { href: string; location: Location } | null = null;

function snapshot(): Location {
  const href = window.location.href;
  if (!cached || cached.href !== href) {
    cached = {
      href,
      location: { path: window.location.pathname, search: new URLSearchParams(window.location.search) },
    };
  }
  return cached.location;
}

function subscribe(listener: () => void): () => void {
  window.addEventListener('popstate', listener);
  window.addEventListener(EVENT, listener);
  return () => {
    window.removeEventListener('popstate', listener);
    window.removeEventListener(EVENT, listener);
  };
}

export function useLocation(): Location {
  return useSyncExternalStore(subscribe, snapshot);
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

/** Leaves the app (Stripe's hosted pages). */
export function leaveTo(url: string): void {
  window.location.assign(url);
}
