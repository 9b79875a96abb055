/**
 * `md5sum`, `sha1sum`, `sha256sum`, `sha512sum` over exec for ordinary users,
 * with jailed paths (or standard input), printing exactly what GNU coreutils
 * prints. rclone's sftp backend runs these to verify transfers. Nothing runs
 * through a shell.
 *
 * Files are hashed by the hashing pool, off the event loop and charged to the
 * user; when the channel closes, the file being hashed and those after it are
 * dropped. One command may name only so many files.
 */
import { createHash } from 'node:crypto';
import type { ServerChannel } from 'ssh2';
import { describeError, userMessage } from '../errors';
import type { Logger } from '../log/types';
import type { Homes } from '../vfs/homes';
import type { HashAlgorithm } from '../vfs/hashing';
import type { HashPool } from '../vfs/hash-pool';
import { shellWords } from '../util/shell-words';
import type { ChannelContext, UserExecHandler } from './channel-handlers';

const COMMANDS: Record<string, HashAlgorithm> = {
  md5sum: 'md5',
  sha1sum: 'sha1',
  sha256sum: 'sha256',
  sha512sum: 'sha512',
};

/** Digest of what the client sends on the channel until it sends EOF. */
function digestInput(channel: ServerChannel, algorithm: HashAlgorithm): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const hash = createHash(algorithm);
    channel.on('data', (d: Buffer) => hash.update(d));
    channel.once('end', () => resolve(hash.digest()));
    channel.once('close', () => reject(new Error('the channel closed before end of input')));
  });
}

function finish(channel: ServerChannel, status: number): void {
  channel.exit(status);
  channel.end();
}

export interface HashExecOptions {
  homes: Homes;
  logger: Logger;
  pool: HashPool;
  /** Files one command may name. */
  maxPaths: number;
}

export class HashExec implements UserExecHandler {
  constructor(private readonly o: HashExecOptions) {}

  exec(ctx: ChannelContext, command: string): boolean {
    let words: string[];
    try {
      words = shellWords(command);
    } catch {
      return false;
    }
    const [name, ...args] = words;
    const algorithm = name === undefined ? undefined : COMMANDS[name];
    if (!name || !algorithm) return false;
    void this.run(ctx, name, algorithm, args);
    return true;
  }

  private async run(
    ctx: ChannelContext,
    name: string,
    algorithm: HashAlgorithm,
    args: string[],
  ): Promise<void> {
    const { channel } = ctx;
    const gone = new AbortController();
    channel.once('close', () => gone.abort());
    const paths = args.filter((a) => a !== '--');
    if (paths.length > this.o.maxPaths) {
      // Refused before anything is read, as coreutils refuses a bad command line (status 1).
      this.o.logger.info('exec.hash_refused', {
        user: ctx.user,
        command: name,
        paths: paths.length,
        limit: this.o.maxPaths,
      });
      channel.stderr.write(
        `${name}: too many files: ${paths.length} given, at most ${this.o.maxPaths} per command\n`,
      );
      finish(channel, 1);
      return;
    }
    // rclone's sftp backend probes for a hash command by running plain
    // `md5sum` / `sha1sum` with empty input and expecting the digest of
    // nothing, "<hex>  -"; only then does it hash files with `md5sum /path`.
    if (paths.length === 0) paths.push('-');
    // Standard input is read from the start, whether or not files come before "-":
    // ssh2 reports a channel closed (the connection dropped) only once its input
    // has been read to the end, so input left unread would hide the client's going.
    const input = paths.includes('-')
      ? digestInput(channel, algorithm).catch(() => undefined)
      : undefined;
    if (!input) channel.resume();
    const fs = await this.o.homes.fsFor(ctx.user);
    let status = 0;
    let stdinRead = false;
    for (const p of paths) {
      // The client went away: nobody is left to answer.
      if (gone.signal.aborted) return;
      if (p === '-') {
        // As coreutils: the first "-" reads standard input to its end, later ones find it empty.
        const digest = stdinRead ? createHash(algorithm).digest() : await input;
        // The client went away before its input ended: nobody is left to answer.
        if (!digest) return;
        stdinRead = true;
        channel.write(`${digest.toString('hex')}  -\n`);
        continue;
      }
      try {
        const file = await fs.openForReading(p.startsWith('/') ? p : `/${p}`);
        try {
          const [digest] = await this.o.pool.digest(file, {
            algorithm,
            offset: 0,
            length: 0,
            blockSize: 0,
            user: ctx.user,
            signal: gone.signal,
          });
          // coreutils prints the name as it was given, two spaces after the digest.
          channel.write(`${(digest as Buffer).toString('hex')}  ${p}\n`);
        } finally {
          await file.close();
        }
      } catch (err) {
        if (gone.signal.aborted) {
          this.o.logger.debug('exec.hash_dropped', { user: ctx.user, command: name });
          return;
        }
        status = 1;
        channel.stderr.write(`${name}: ${p}: ${userMessage(err)}\n`);
        this.o.logger.debug('exec.hash_failed', {
          user: ctx.user,
          command: name,
          error: describeError(err),
        });
      }
    }
    finish(channel, status);
  }
}
