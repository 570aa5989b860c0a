import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { endpoints, loadConfig } from './config';
import { ServicesContext } from './context';
import { ClientHolder } from './holder';
import { Session } from './session';
import { installTestHooks } from './testHooks';
import './styles.css';

async function boot(): Promise<void> {
  const container = document.getElementById('root');
  if (!container) throw new Error('#root is missing from index.html');
  const root = createRoot(container);
  let config;
  try {
    config = await loadConfig();
  } catch (e) {
    root.render(
      <main className="center">
        <div className="error" role="alert" data-testid="error" data-code="CONFIG">
          <strong>The app is not configured.</strong>
          <span className="error-detail">{e instanceof Error ? e.message : String(e)}</span>
        </div>
      </main>,
    );
    return;
  }
  const urls = endpoints(config);
  const session = new Session(urls.http);
  const holder = new ClientHolder(urls, session);
  if (config.testHooks) installTestHooks(session, holder);
  root.render(
    <StrictMode>
      <ServicesContext.Provider value={{ config, session, holder }}>
        <App />
      </ServicesContext.Provider>
    </StrictMode>,
  );
  await session.restore();
}

void boot();
