// Keeps the clients of the current session: a fresh pair at each sign-in and
// sign-out (the epoch changes), the old pair disposed. Outside React, so
// StrictMode's double effects cannot dispose a pair that is still in use.

import { createClients, type Clients } from './client';
import type { Endpoints } from './config';
import type { Session } from './session';

export class ClientHolder {
  private clients: Clients;
  private epoch: number;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly endpoints: Endpoints,
    private readonly session: Session,
  ) {
    this.epoch = this.currentEpoch();
    this.clients = createClients(endpoints, session);
    session.subscribe(() => {
      const epoch = this.currentEpoch();
      if (epoch === this.epoch) return;
      this.epoch = epoch;
      this.clients.dispose();
      this.clients = createClients(this.endpoints, this.session);
      for (const l of this.listeners) l();
    });
  }

  private currentEpoch(): number {
    const state = this.session.getState();
    return state.status === 'signedIn' ? state.epoch : -1;
  }

  getSnapshot = (): Clients => this.clients;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}
