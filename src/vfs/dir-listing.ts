/**
 * An open directory listing, read a bounded batch at a time: the directory
 * stays open (one descriptor) and only the names of the batch being read are
 * held, however many entries the directory has.
 */
import type * as fs from 'node:fs';

export interface DirEntry {
  name: string;
  stats: fs.Stats;
  /**
   * A shared folder mounted here: "shared:read", "shared:write" or
   * "shared:upload", shown in the group column of the listing's long name.
   */
  group?: string;
}

/** Names the directory reader fetches from the kernel at once and buffers. */
export const LISTING_READ_AHEAD = 32;

export interface BatchLimits {
  /** Most entries in one batch. */
  readonly names: number;
  /** Most bytes one batch may cost, by `cost`; the first entry is taken whatever it costs. */
  readonly bytes: number;
  /** What an entry of this name costs (in the reply it is sent in). */
  readonly cost: (name: string) => number;
}

export class DirListing {
  /** "." and ".." first, as OpenSSH's sftp-server lists them; then names read but not yet sent. */
  private readonly ahead: string[] = ['.', '..'];
  private dir: fs.Dir | undefined;
  /** Batches and the close run one after another, in the order they were asked for. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    dir: fs.Dir,
    /** lstat of names in the directory; names gone since they were read are left out. */
    private readonly statNames: (names: string[]) => Promise<DirEntry[]>,
    /** Entries that are not the directory's own (shared folders mounted in it), read as "/" + name. */
    extra: readonly string[] = [],
  ) {
    this.dir = dir;
    for (const name of extra) this.ahead.push(`/${name}`);
  }

  /**
   * The next entries, or undefined once the directory has been read to the
   * end. Entries removed since they were read are skipped, and reading goes
   * on until a batch has something or the end is reached.
   */
  next(limits: BatchLimits): Promise<DirEntry[] | undefined> {
    const run = this.queue.then(() => this.readBatch(limits));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the directory; waits for a batch being read first. Safe to call twice. */
  close(): Promise<void> {
    const run = this.queue.then(() => this.closeDir());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async readBatch(limits: BatchLimits): Promise<DirEntry[] | undefined> {
    for (;;) {
      const names = await this.readNames(limits);
      if (names.length === 0) {
        // Read to the end: the descriptor is not needed any more.
        await this.closeDir();
        return undefined;
      }
      const entries = await this.statNames(names);
      if (entries.length > 0) return entries;
    }
  }

  private async readNames(limits: BatchLimits): Promise<string[]> {
    const names: string[] = [];
    let bytes = 0;
    while (names.length < limits.names) {
      const name = this.ahead.shift() ?? (await this.readOne());
      if (name === undefined) break;
      const cost = limits.cost(name);
      if (names.length > 0 && bytes + cost > limits.bytes) {
        this.ahead.unshift(name);
        break;
      }
      names.push(name);
      bytes += cost;
    }
    return names;
  }

  private async readOne(): Promise<string | undefined> {
    if (!this.dir) return undefined;
    const entry = await this.dir.read();
    return entry?.name;
  }

  private async closeDir(): Promise<void> {
    const dir = this.dir;
    if (!dir) return;
    this.dir = undefined;
    this.ahead.length = 0;
    await dir.close();
  }
}
