import { createContext, useContext, useSyncExternalStore } from 'react';
import type { AppConfig } from './config';
import type { ClientHolder } from './holder';
import type { Session } from './session';
import type { Clients } from './client';
import type { LiveSnapshot } from './live';

export interface AppServices {
  config: AppConfig;
  session: Session;
  holder: ClientHolder;
}

export const ServicesContext = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('ServicesContext is missing');
  return services;
}

export function useClients(): Clients {
  const { holder } = useServices();
  return useSyncExternalStore(holder.subscribe, holder.getSnapshot);
}

export function useLive(): LiveSnapshot {
  const { live } = useClients();
  return useSyncExternalStore(live.subscribe, live.getSnapshot);
}
