// Live updates: the WebSocket's state, and a version number that goes up
// each time Entitle pushes new entitlements (or the socket came back after a
// gap, when a push may have been missed). Queries refetch when it changes.

export type LiveState = 'off' | 'connecting' | 'connected' | 'reconnecting';

export interface LiveSnapshot {
  state: LiveState;
  /** Goes up on every push, every reconnect and every manual reload. */
  version: number;
  /** Why the version last went up. */
  reason: 'start' | 'push' | 'reconnected' | 'manual';
  connects: number;
  pushes: number;
}

export class LiveStatus {
  private snapshot: LiveSnapshot = { state: 'off', version: 0, reason: 'start', connects: 0, pushes: 0 };
  private readonly listeners = new Set<() => void>();

  getSnapshot = (): LiveSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  set(state: LiveState): void {
    if (this.snapshot.state !== state) this.update({ state });
  }

  bump(reason: 'push' | 'reconnected' | 'manual'): void {
    this.update({
      version: this.snapshot.version + 1,
      reason,
      pushes: this.snapshot.pushes + (reason === 'push' ? 1 : 0),
    });
  }

  countConnect(): void {
    this.update({ connects: this.snapshot.connects + 1 });
  }

  private update(patch: Partial<LiveSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of this.listeners) l();
  }
}
