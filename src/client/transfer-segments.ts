/**
 * A download's segments: besides the transfer's own SFTP session, more
 * sessions on the same connection, each with its own handle on the file
 * (as lftp's `pget -n`). The blocks go to them in turn, so they still
 * complete nearly in order and the MD5 takes them in order as before; each
 * session brings its own channel window and the server's own per-session
 * limits, so a long link carries more at once.
 */
import { OpenFlag } from '../sftp/constants';
import type { SftpChannel } from './sftp-channel';

/** A file smaller than this is not split: one session's requests already cover it. */
export const SEGMENT_MIN = 8 * 1024 * 1024;
/** The most segments one transfer may use. */
export const MAX_SEGMENTS = 16;

/** One session carrying blocks of the transfer, and its handle on the file. */
export interface Lane {
  readonly sftp: SftpChannel;
  readonly handle: Buffer;
  /** Opened for this transfer: closed and ended with it. */
  readonly own: boolean;
}

/**
 * The lanes for a download of `remaining` bytes: the transfer's own session,
 * plus up to `segments - 1` more when the file is large enough. A session or
 * an OPEN that fails only means fewer lanes.
 */
export async function openLanes(
  sftp: SftpChannel,
  handle: Buffer,
  remotePath: string,
  segments: number,
  remaining: number,
): Promise<Lane[]> {
  const lanes: Lane[] = [{ sftp, handle, own: false }];
  const more = Math.min(segments, MAX_SEGMENTS) - 1;
  if (more <= 0 || remaining < SEGMENT_MIN) return lanes;
  const opened = await Promise.allSettled(
    Array.from({ length: more }, async () => {
      const s = await sftp.sibling();
      if (!s) return undefined;
      try {
        return { sftp: s, handle: await s.open(remotePath, OpenFlag.READ), own: true };
      } catch (err) {
        await s.end().catch(() => undefined);
        throw err;
      }
    }),
  );
  for (const r of opened) if (r.status === 'fulfilled' && r.value) lanes.push(r.value);
  return lanes;
}

/** Closes the handles and ends the sessions the transfer opened. */
export async function closeLanes(lanes: readonly Lane[]): Promise<void> {
  await Promise.all(
    lanes
      .filter((l) => l.own)
      .map(async (l) => {
        await l.sftp.close(l.handle).catch(() => undefined);
        await l.sftp.end().catch(() => undefined);
      }),
  );
}
