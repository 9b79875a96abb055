/**
 * The open handles of one SFTP session: handle strings to open files and
 * directory listings, and the budgets every handle is counted against. The
 * session's handle cap, its listing memory and the server-wide budget (a
 * user's descriptors, the server's, listing memory) are all checked in
 * `reserve`, before whatever the handle holds is opened.
 */
import { MiniftpError } from '../errors';
import { formatSize } from '../config/size';
import type { DirListing } from '../vfs/dir-listing';
import type { VFile } from '../vfs/vfile';
import { HandleBudget, LISTING_BYTES_PER_HANDLE, type Release } from './handle-budget';

/** An open directory: its listing and the path the client named, nothing of the real path. */
export interface DirHandle {
  kind: 'dir';
  virtualPath: string;
  listing: DirListing;
  /** Gives back the handle's share of the session's and the server's budgets. */
  release: Release;
}

export interface FileHandle {
  kind: 'file';
  file: VFile;
  release: Release;
}

export type Handle = DirHandle | FileHandle;

export interface HandleLimits {
  /** Handles open (or being opened) at once in the session. */
  maxHandles: number;
  /**
   * Bytes of directory listings the session may buffer at once (each open
   * directory handle counts LISTING_BYTES_PER_HANDLE); 0 or absent for no limit.
   */
  maxListingBytes?: number;
}

export class HandleTable {
  private readonly handles = new Map<string, Handle>();
  /** Handles open or being opened: each holds a share taken by `reserve`. */
  private reserved = 0;
  /** Bytes of listing memory the open directory handles count for. */
  private listingBytes = 0;
  private nextHandle = 1;

  constructor(
    private readonly user: string,
    private readonly limits: HandleLimits,
    private readonly budget: HandleBudget = HandleBudget.unlimited(),
  ) {}

  /**
   * Takes a handle's share of every budget before whatever it holds is
   * opened: a slot of this session's handles, one of the user's and of the
   * server's descriptors and, for a directory, its listing memory. Throws a
   * `limit` error, having taken nothing, when one is spent.
   */
  reserve(kind: Handle['kind']): Release {
    const { maxHandles, maxListingBytes = 0 } = this.limits;
    if (this.reserved >= maxHandles) {
      throw MiniftpError.limit(`too many open handles (limit ${maxHandles})`);
    }
    const taken: Release[] = [];
    try {
      if (kind === 'dir') {
        const bytes = LISTING_BYTES_PER_HANDLE;
        if (maxListingBytes > 0 && this.listingBytes + bytes > maxListingBytes) {
          throw MiniftpError.limit(
            `too many directory listings open in this session (memory limit ${formatSize(maxListingBytes)}); close some first`,
          );
        }
        taken.push(this.budget.takeListing(bytes));
        this.listingBytes += bytes;
        taken.push(() => (this.listingBytes -= bytes));
      }
      taken.push(this.budget.takeHandle(this.user));
    } catch (err) {
      for (const give of taken) give();
      throw err;
    }
    this.reserved++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.reserved--;
      for (const give of taken) give();
    };
  }

  /** Gives an open file or directory a handle string; `h.release` must come from `reserve`. */
  add(h: Handle): string {
    const id = String(this.nextHandle++);
    this.handles.set(id, h);
    return id;
  }

  /** Reserves for an open file and gives it a handle (the resume extension opens its own). */
  adoptFile(file: VFile): string {
    return this.add({ kind: 'file', file, release: this.reserve('file') });
  }

  /** The open file behind a handle string. */
  file(handle: string): VFile {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    if (h.kind !== 'file') throw MiniftpError.invalid('the handle is a directory');
    return h.file;
  }

  /** The open directory behind a handle string. */
  dir(handle: string): DirHandle {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    if (h.kind !== 'dir') throw MiniftpError.invalid('the handle is not a directory');
    return h;
  }

  /** Takes a handle out of the table (CLOSE); its owner closes it and calls `release`. */
  take(handle: string): Handle {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    this.handles.delete(handle);
    return h;
  }

  /** Forgets a handle whose opening failed after `add`. */
  forget(handle: string): void {
    this.handles.delete(handle);
  }

  /** Takes every handle out (the session ends). */
  takeAll(): Handle[] {
    const open = [...this.handles.values()];
    this.handles.clear();
    return open;
  }

  /** True when this session has the file `key` (device:inode) open for writing. */
  writesTo(key: string): boolean {
    for (const h of this.handles.values()) {
      if (h.kind === 'file' && h.file.writable && h.file.key === key) return true;
    }
    return false;
  }
}
