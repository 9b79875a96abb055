/**
 * `md5sum`, `sha1sum`, `sha256sum`, `sha512sum` over exec for ordinary users,
 * with one jailed path, printing exactly what GNU coreutils prints. rclone's
 * sftp backend runs these to verify transfers. Nothing runs through a shell.
 */
import type { ServerChannel } from 'ssh2';
import { describeError } from '../errors';
import type { Logger } from '../log/types';
import type { Homes } from '../vfs/homes';
import { digestRange, type HashAlgorithm } from '../vfs/hashing';
import { shellWords } from '../util/shell-words';
import type { ChannelContext, UserExecHandler } from './channel-handlers';
import { statusFromError } from '../sftp/status';

const COMMANDS: Record<string, HashAlgorithm> = {
  md5sum: 'md5',
  sha1sum: 'sha1',
  sha256sum: 'sha256',
  sha512sum: 'sha512',
};

function finish(channel: ServerChannel, status: number): void {
  channel.exit(status);
  channel.end();
}

export class HashExec implements UserExecHandler {
  constructor(private readonly o: { homes: Homes; logger: Logger }) {}

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
    const paths = args.filter((a) => a !== '--');
    if (paths.length === 0) {
      channel.stderr.write(
        `${name}: give one file path (reading standard input is not supported)\n`,
      );
      finish(channel, 1);
      return;
    }
    const fs = await this.o.homes.fsFor(ctx.user);
    let status = 0;
    for (const p of paths) {
      try {
        const file = await fs.openForReading(p.startsWith('/') ? p : `/${p}`);
        try {
          const [digest] = await digestRange(file, {
            algorithm,
            offset: 0,
            length: 0,
            blockSize: 0,
          });
          // coreutils prints the name as it was given, two spaces after the digest.
          channel.write(`${(digest as Buffer).toString('hex')}  ${p}\n`);
        } finally {
          await file.close();
        }
      } catch (err) {
        status = 1;
        channel.stderr.write(`${name}: ${p}: ${statusFromError(err).message}\n`);
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
