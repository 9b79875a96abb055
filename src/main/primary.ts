/**
 * The primary process of a node with several workers (`workers` above 1).
 * It serves nothing itself: Node's cluster module lets it own the listening
 * socket and hand each accepted connection to the next worker in turn; it
 * starts the workers, replaces one that dies (sooner or later depending on how
 * long it lived), and on SIGINT or SIGTERM stops them all and waits for them.
 * Workers are forks of this same command, so they run with exactly the
 * privileges this process has (under setpriv, without the capabilities that
 * bypass file modes).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import { isIpcPacket } from './cluster-bus';

/** Environment of a worker: its slot (1..N), the node it belongs to, how many workers there are. */
export const WORKER_SLOT_ENV = 'MINIFTP_WORKER_SLOT';
export const WORKER_NODE_ENV = 'MINIFTP_WORKER_NODE';
export const WORKER_COUNT_ENV = 'MINIFTP_WORKER_COUNT';

/** What a worker tells the primary once it serves. */
export interface ReadyMessage {
  readonly miniftp: 'ready';
  readonly host: string;
  readonly port: number;
}

export function isReadyMessage(m: unknown): m is ReadyMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as { miniftp?: unknown }).miniftp === 'ready' &&
    typeof (m as { port?: unknown }).port === 'number' &&
    typeof (m as { host?: unknown }).host === 'string'
  );
}

/** First wait before a dead worker is replaced; doubled for each quick death in a row. */
export const RESTART_DELAY_MS = 250;
export const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that lived this long died of something new: the next wait starts over. */
const STABLE_MS = 10_000;
/** Workers still running this long after SIGTERM are killed. */
const STOP_GRACE_MS = 30_000;

/** The wait before replacing a worker that ran `livedMs` and whose previous wait was `lastDelay`. */
export function restartDelay(livedMs: number, lastDelay: number | undefined): number {
  if (lastDelay === undefined || livedMs >= STABLE_MS) return RESTART_DELAY_MS;
  return Math.min(MAX_RESTART_DELAY_MS, lastDelay * 2);
}

interface Slot {
  readonly slot: number;
  worker: Worker | undefined;
  startedAt: number;
  lastDelay: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

export interface PrimaryOptions {
  readonly config: Config;
  /** The server's command-line arguments, given to every worker as they are. */
  readonly argv: readonly string[];
  readonly workers: number;
  readonly node: string;
  readonly logger: Logger;
  /** Receives the line tests and scripts wait for ("listening on HOST:PORT"). */
  readonly announce: (host: string, port: number) => void;
}

/**
 * Runs the workers until SIGINT or SIGTERM; resolves with the exit code: 0
 * after a stop, or the code of a worker that could not start (a bad setting, a
 * port in use), whose reason it has printed on the shared stderr.
 */
export function runPrimary(o: PrimaryOptions): Promise<number> {
  // Round-robin in the primary (also Node's default on Linux): said here so that no
  // environment variable (NODE_CLUSTER_SCHED_POLICY) can turn it into the kernel's choice.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({ exec: process.argv[1] ?? '', args: [...o.argv] });
  const { logger } = o;
  const slots: Slot[] = Array.from({ length: o.workers }, (_, i) => ({
    slot: i + 1,
    worker: undefined,
    startedAt: 0,
    lastDelay: undefined,
    timer: undefined,
  }));
  let started = false;
  let stopping = false;
  /** Workers of the first start not ready yet. */
  let pendingReady = o.workers;
  /** The exit code of a worker that could not start: the primary's own. */
  let failure: number | undefined;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = (code) => resolve(failure ?? code)));

  const fork = (s: Slot): void => {
    s.timer = undefined;
    s.startedAt = Date.now();
    const worker = cluster.fork({
      [WORKER_SLOT_ENV]: String(s.slot),
      [WORKER_NODE_ENV]: o.node,
      [WORKER_COUNT_ENV]: String(o.workers),
    });
    s.worker = worker;
    worker.on('message', (m: unknown) => {
      if (isIpcPacket(m)) {
        // The bus between workers: everyone but the sender.
        for (const other of slots) {
          const w = other.worker;
          if (w && w !== worker && w.isConnected()) w.send(m);
        }
        return;
      }
      if (!isReadyMessage(m)) return;
      if (started) {
        logger.info('cluster.worker_started', { worker: s.slot, pid: worker.process.pid ?? null });
        return;
      }
      // Workers start one after the other: the first one alone creates what a
      // first start creates (host keys, the database, the first accounts).
      const next = slots[o.workers - pendingReady + 1];
      if (--pendingReady > 0 && next) fork(next);
      if (pendingReady === 0) {
        started = true;
        logger.info('cluster.started', {
          node: o.node,
          workers: o.workers,
          host: m.host,
          port: m.port,
        });
        o.announce(m.host, m.port);
      }
    });
    worker.on('exit', (code, signal) => {
      if (s.worker === worker) s.worker = undefined;
      if (stopping) {
        if (slots.every((x) => x.worker === undefined)) finish(0);
        return;
      }
      if (!started) {
        // A worker that cannot start (bad setting, port in use) fails the same way every time.
        failure = code !== null && code > 0 ? code : 1;
        stop(undefined);
        return;
      }
      const lived = Date.now() - s.startedAt;
      s.lastDelay = restartDelay(lived, s.lastDelay);
      logger.warn('cluster.worker_exited', {
        worker: s.slot,
        pid: worker.process.pid ?? null,
        code,
        signal,
        lived_ms: lived,
        restart_in_ms: s.lastDelay,
      });
      s.timer = setTimeout(() => fork(s), s.lastDelay);
    });
  };

  const stop = (signal: string | undefined): void => {
    if (stopping) return;
    stopping = true;
    if (signal) logger.info('server.signal', { signal, workers: o.workers });
    for (const s of slots) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      s.worker?.process.kill('SIGTERM');
    }
    if (slots.every((x) => x.worker === undefined)) finish(0);
    const force = setTimeout(() => {
      for (const s of slots) s.worker?.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    force.unref();
    void done.then(() => clearTimeout(force));
  };
  // Under setpriv a group signal arrives twice (directly and through the outer process).
  const onInt = (): void => stop('SIGINT');
  const onTerm = (): void => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  if (slots[0]) fork(slots[0]);
  return done.then((code) => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    if (started) logger.info('server.stopped', { node: o.node });
    return code;
  });
}
