/**
 * Stand-ins for driving an `SftpSession` without SSH: a channel whose input
 * the test pushes and whose output it reads back as SFTP packets, and a logger
 * that records events.
 */
import { Duplex, PassThrough } from 'node:stream';
import type { ServerChannel } from 'ssh2';
import type { Logger, LogFields } from '../../src/log/types';
import { PacketFramer } from '../../src/sftp/codec';

/** Collects log events; `bad_packet` tells a stream the session gave up on. */
export class RecordingLogger implements Logger {
  readonly events: string[] = [];
  debug(event: string): void {
    this.events.push(event);
  }
  info(event: string): void {
    this.events.push(event);
  }
  warn(event: string): void {
    this.events.push(event);
  }
  error(event: string, fields?: LogFields): void {
    this.events.push(`${event} ${JSON.stringify(fields ?? {})}`);
  }
  child(): Logger {
    return this;
  }
  async close(): Promise<void> {}
}

/**
 * The server side of an SSH channel: what the test pushes is what the client
 * sent; every whole packet the server writes is kept in `replies` and emitted
 * as 'reply'. The session ends the channel ('finish') when it is done.
 */
export class FakeChannel extends Duplex {
  readonly replies: Buffer[] = [];
  readonly stderr = new PassThrough();
  garbledOutput: string | undefined;
  exitCode: number | undefined;
  private readonly out = new PacketFramer(64 * 1024 * 1024);

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    try {
      // A copy: the session reuses a reply's buffer once the write has called back, as ssh2 copies it.
      this.out.push(Buffer.from(chunk));
      for (let body = this.out.next(); body; body = this.out.next()) {
        this.replies.push(body);
        this.emit('reply', body);
      }
    } catch (err) {
      this.garbledOutput = String(err);
    }
    done();
  }

  exit(code: number): void {
    this.exitCode = code;
  }
}

/** The channel as `SftpSession` takes it (it uses only the stream API, exit() and stderr). */
export function asServerChannel(channel: FakeChannel): ServerChannel {
  return channel as unknown as ServerChannel;
}
