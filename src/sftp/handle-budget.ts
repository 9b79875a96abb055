/**
 * What open SFTP handles may hold across the whole server. Every file or
 * directory handle holds one descriptor: one user may hold at most `perUser`
 * of them over all their sessions, and all users together at most `total`,
 * which start.ts sets to the process's descriptor limit minus a reserve kept
 * for accepting connections, logging in, the logs and the store. Directory
 * handles also count the memory their listing buffers against `listingBytes`
 * (each session has its own share too: see HandleTable).
 */
import { MiniftpError } from '../errors';
import { LISTING_READ_AHEAD } from '../vfs/dir-listing';

export interface HandleBudgetLimits {
  /** Handles one user may have open across all their sessions; 0 for no limit. */
  readonly perUser: number;
  /** Handles open at once on the whole server; 0 for no limit. */
  readonly total: number;
  /** Bytes of directory listings buffered at once on the whole server; 0 for no limit. */
  readonly listingBytes: number;
}

export interface HandleBudgetUsage {
  /** Handles open on the whole server. */
  readonly handles: number;
  /** Open handles per user (users with none are left out). */
  readonly perUser: Readonly<Record<string, number>>;
  /** Bytes of directory listings counted as buffered. */
  readonly listingBytes: number;
}

/** Gives back what was taken; calling it again does nothing. */
export type Release = () => void;

/**
 * The memory one open directory handle is counted for: the C library's
 * buffer for the kernel's directory entries (32 KiB with glibc, filled by the
 * first read), the LISTING_READ_AHEAD names read ahead (up to 255 bytes each,
 * up to twice that as strings, with their objects), and one READDIR reply
 * being built (at most READDIR_MAX_BYTES). Measured: about 45 KiB per open
 * listing after its first read and 70 KiB after a batch of 100 names of 200
 * characters, so the estimate errs on the safe side.
 */
export const READDIR_MAX_BYTES = 64 * 1024;
const DIR_STREAM_BUFFER = 32 * 1024;
const NAME_READ_AHEAD_BYTES = 1024;
export const LISTING_BYTES_PER_HANDLE =
  DIR_STREAM_BUFFER + LISTING_READ_AHEAD * NAME_READ_AHEAD_BYTES + READDIR_MAX_BYTES;

function once(fn: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

export class HandleBudget {
  private readonly byUser = new Map<string, number>();
  private handles = 0;
  private listing = 0;

  constructor(readonly limits: HandleBudgetLimits) {}

  /** A budget that refuses nothing (sessions built without a server around them). */
  static unlimited(): HandleBudget {
    return new HandleBudget({ perUser: 0, total: 0, listingBytes: 0 });
  }

  /** Counts one more open handle of `user`, or throws a `limit` error when a budget is spent. */
  takeHandle(user: string): Release {
    const { perUser, total } = this.limits;
    const mine = this.byUser.get(user) ?? 0;
    if (total > 0 && this.handles >= total) {
      throw MiniftpError.limit(
        `the server has reached its limit of open files (${total}); try again later`,
      );
    }
    if (perUser > 0 && mine >= perUser) {
      throw MiniftpError.limit(
        `too many open handles for this user across all sessions (limit ${perUser})`,
      );
    }
    this.byUser.set(user, mine + 1);
    this.handles++;
    return once(() => {
      this.handles--;
      const left = (this.byUser.get(user) ?? 1) - 1;
      if (left > 0) this.byUser.set(user, left);
      else this.byUser.delete(user);
    });
  }

  /** Counts `bytes` of buffered listing server-wide, or throws a `limit` error. */
  takeListing(bytes: number): Release {
    const limit = this.limits.listingBytes;
    if (limit > 0 && this.listing + bytes > limit) {
      throw MiniftpError.limit(
        'the server has reached its limit of memory for directory listings; try again later',
      );
    }
    this.listing += bytes;
    return once(() => {
      this.listing -= bytes;
    });
  }

  usage(): HandleBudgetUsage {
    return {
      handles: this.handles,
      perUser: Object.fromEntries(this.byUser),
      listingBytes: this.listing,
    };
  }
}

/** The defaults of the descriptor budget, sized from the limit in force. */
export interface DescriptorPlan {
  /** Descriptors kept out of the handle budget. */
  readonly reserve: number;
  /** Handles open at once on the whole server. */
  readonly total: number;
  readonly perUser: number;
  /** The configured reserve did not leave half the limit for handles and was cut. */
  readonly reserveCut: boolean;
}

/** Users it takes to spend the server-wide handle budget when each uses all of theirs. */
export const USERS_TO_EXHAUST = 8;
/** Descriptors the process holds whatever its traffic: stdio, libuv, threads, the store, the logs. */
export const BASE_DESCRIPTORS = 64;

/**
 * How the descriptor limit `nofile` is shared. The reserve (`reserved`, or by
 * default BASE_DESCRIPTORS plus two per allowed connection: its socket and a
 * file that check-file or the hash commands open for a moment) is at most half
 * the limit; the rest are handles. A user may by default hold an eighth of them.
 */
export function planDescriptors(
  nofile: number,
  settings: { reserved: number; perUser: number; maxConnections: number },
): DescriptorPlan {
  const wanted =
    settings.reserved > 0 ? settings.reserved : BASE_DESCRIPTORS + 2 * settings.maxConnections;
  const half = Math.floor(nofile / 2);
  const reserve = Math.min(wanted, half);
  const total = Math.max(1, nofile - reserve);
  const perUser =
    settings.perUser > 0
      ? Math.min(settings.perUser, total)
      : Math.max(1, Math.floor(total / USERS_TO_EXHAUST));
  return { reserve, total, perUser, reserveCut: reserve < wanted };
}
