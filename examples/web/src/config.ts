// Runtime configuration, fetched from /config.json when the app starts, so
// one build runs against any Entitle: the static server (or whoever deploys
// the app) writes the file next to index.html.

export interface AppConfig {
  /** Entitle's base URL, e.g. http://127.0.0.1:8080 (no trailing slash needed). */
  entitleUrl: string;
  /** Exposes window.__entitleTest for the end-to-end test. Never in production. */
  testHooks: boolean;
}

export interface Endpoints {
  http: string;
  ws: string;
}

export async function loadConfig(): Promise<AppConfig> {
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`GET /config.json answered ${res.status}`);
  const raw: unknown = await res.json();
  if (typeof raw !== 'object' || raw === null) throw new Error('/config.json is not an object');
  const { entitleUrl, testHooks } = raw as Record<string, unknown>;
  if (typeof entitleUrl !== 'string' || !/^https?:\/\//.test(entitleUrl)) {
    throw new Error('/config.json: "entitleUrl" must be an http(s) URL');
  }
  return { entitleUrl: entitleUrl.replace(/\/+$/, ''), testHooks: testHooks === true };
}

export function endpoints(config: AppConfig): Endpoints {
  const http = `${config.entitleUrl}/graphql`;
  const ws = `${config.entitleUrl.replace(/^http/, 'ws')}/graphql/ws`;
  return { http, ws };
}
