/**
 * What vfs and the protocol layer ask of uploads (resumable uploads, digests
 * kept from the writes): the one interface between them and src/uploads/.
 *
 * It is declared here, in vfs, and implemented in src/uploads/ (which sits
 * above vfs and may import it): vfs calls it on every open for writing and
 * every change of names, yet must not depend on uploads, and declaring it in
 * vfs keeps the arrow one way without a folder of its own for one file. A
 * tracker shared by several processes later implements the same methods.
 */
import type { Stats } from 'node:fs';
import type { Logger } from '../log/types';
import type { OpenRequest } from './types';
import type { VFile, WriteObserver } from './vfile';

/** A file just opened for writing, as the user's filesystem opened it. */
export interface WrittenFile {
  /** The open truncated or created the file: it starts empty. */
  truncated: boolean;
  /** Bytes in the file when it was opened (0 after a truncate). */
  size: number;
  /** The file's device:inode (fileKey) and its size as the open found it, before any truncate. */
  key: string;
  sizeFound: number;
  fd: number;
  /** Whether `fd` can be read (files are opened read-write for this when allowed). */
  fdReadable: boolean;
}

/** The part of a user's filesystem a resume works through (UserFs has it). */
export interface ResumableFs {
  stat(virtual: string): Promise<Stats>;
  open(virtual: string, req: OpenRequest): Promise<VFile>;
  /** The open files (by device:inode, see fileKey) and their closing, of the quota that pays for `virtual`. */
  usageAt(virtual: string): {
    isOpen(key: string): boolean;
    whenClosed(key: string): Promise<void>;
  };
}

export interface ResumeRequest {
  user: string;
  /** Normalised virtual path of the file to resume. */
  path: string;
  /** Bytes the client has already sent, whose MD5 it gives. */
  offset: number;
  /** MD5 of the client's first `offset` bytes (16 raw bytes). */
  md5: Buffer;
  /** Whether the requesting session itself holds a write handle on the file `key`. */
  writesTo(key: string): boolean;
  /** Aborts the work when the requesting session goes away. */
  signal: AbortSignal;
  /** The session's logger: waits, refusals and acceptances are logged there. */
  logger: Logger;
}

export interface UploadTracker {
  /**
   * `path` of `user` was opened for writing. Returns the observer to follow
   * its writes, or undefined when nothing is to be followed. Called on the
   * OPEN path: synchronous and cheap.
   */
  observe(user: string, path: string, file: WrittenFile): WriteObserver | undefined;
  /** The content at `path` was replaced (truncated, created anew) or removed: forget what was known of it. */
  pathGone(user: string, path: string): void;
  /** `from` (a file or a directory) was renamed to `to`: what was known follows it, what `to` held is gone. */
  pathMoved(user: string, from: string, to: string): void;
  /**
   * SETSTAT gave the regular file at `path` new times, its content untouched
   * (WinSCP sets them after its upload): `before` is the file before, `mtimeMs` its new mtime.
   */
  timesSet(
    user: string,
    path: string,
    before: { size: number; mtimeMs: number },
    mtimeMs: number,
  ): void;
  /**
   * resume-upload: opens the file at `req.path` for writing, cut to
   * `req.offset` bytes, when its first `req.offset` bytes have the client's
   * MD5. Waits (bounded) for a writer in another session to finish first.
   * Throws MiniftpError: 'resume-mismatch' (MiniftpError.resumeRefused) when
   * the bytes differ or are too few, 'busy' when the file is still being
   * written, or what opening the file throws. The caller owns the file returned.
   */
  resume(fs: ResumableFs, req: ResumeRequest): Promise<VFile>;
  /**
   * The MD5 of the whole of an open file when it is known without reading the
   * file (an upload followed from its first byte); undefined otherwise.
   * `length` other than 0 must be the file's size.
   */
  wholeMd5(user: string, file: VFile, length: number): Promise<Buffer | undefined>;
}
