/**
 * The cluster bus: what one process tells every other process of the cluster
 * (end a session, end a user's sessions, a user's quota or account changed, a
 * login failed or succeeded). The store carries the text between nodes
 * (PostgreSQL's LISTEN/NOTIFY); between the workers of one node on SQLite the
 * primary relays it over the cluster module's IPC channels (IpcBus).
 */
import type { LoginEvent } from '../auth/throttle';
import type { ClusterBus } from '../store/cluster-types';

export type BusMessage =
  | { readonly t: 'kick'; readonly id: string; readonly reason: string }
  | { readonly t: 'kill-user'; readonly user: string; readonly reason: string }
  | { readonly t: 'quota'; readonly user: string }
  | { readonly t: 'deleted'; readonly user: string }
  | { readonly t: 'login'; readonly event: LoginEvent };

/** A message and the process that sent it ("node:pid"), which skips its own. */
export interface Envelope {
  readonly from: string;
  readonly m: BusMessage;
}

export function encode(envelope: Envelope): string {
  return JSON.stringify(envelope);
}

function isText(v: unknown): v is string {
  return typeof v === 'string';
}

function isLoginEvent(v: Record<string, unknown>): v is LoginEvent & Record<string, unknown> {
  if (!isText(v.ip)) return false;
  if (v.kind === 'success') return isText(v.account);
  return (
    v.kind === 'failure' &&
    (v.account === undefined || isText(v.account)) &&
    typeof v.password === 'boolean'
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The envelope in `text`, or undefined for anything that is not a well-formed one. */
export function decode(text: string): Envelope | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !isText(parsed.from) || !isRecord(parsed.m)) return undefined;
  const m = parsed.m;
  const ok =
    (m.t === 'kick' && isText(m.id) && isText(m.reason)) ||
    (m.t === 'kill-user' && isText(m.user) && isText(m.reason)) ||
    ((m.t === 'quota' || m.t === 'deleted') && isText(m.user)) ||
    (m.t === 'login' && isRecord(m.event) && isLoginEvent(m.event));
  return ok ? { from: parsed.from, m: m as unknown as BusMessage } : undefined;
}

/** A bus message on a cluster IPC channel. */
export interface IpcPacket {
  readonly miniftpBus: string;
}

export function isIpcPacket(m: unknown): m is IpcPacket {
  return isRecord(m) && isText(m.miniftpBus);
}

/** The bus of a worker on SQLite: through the primary, which passes it to the other workers. */
export class IpcBus implements ClusterBus {
  private readonly listeners: Array<(text: string) => void> = [];
  private readonly onMessage = (m: unknown): void => {
    if (isIpcPacket(m)) for (const l of this.listeners) l(m.miniftpBus);
  };

  constructor() {
    process.on('message', this.onMessage);
  }

  publish(text: string): Promise<void> {
    const packet: IpcPacket = { miniftpBus: text };
    return new Promise((resolve) => {
      // A primary that is gone takes this worker with it: nothing to report.
      if (!process.send || !process.connected) resolve();
      else process.send(packet, undefined, {}, () => resolve());
    });
  }

  subscribe(listener: (text: string) => void): void {
    this.listeners.push(listener);
  }

  close(): Promise<void> {
    process.off('message', this.onMessage);
    return Promise.resolve();
  }
}

/** The bus of a single process alone on its store: nobody to tell. */
export class NoBus implements ClusterBus {
  publish(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}
