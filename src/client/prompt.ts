/** Questions on the terminal before the screen starts: a yes/no, a line, a password without echo. */
import type { ReadStream } from 'node:tty';
import type { Writable } from 'node:stream';

export interface PromptIo {
  input: ReadStream;
  output: Writable;
}

/**
 * Reads one line from a terminal in raw mode, echoing it unless `secret`.
 * Ctrl-C and Ctrl-D on an empty line reject, so the caller can exit cleanly;
 * so does `signal` (the connection the question was for has ended).
 */
export function askLine(
  io: PromptIo,
  question: string,
  secret = false,
  signal?: AbortSignal,
): Promise<string> {
  const { input, output } = io;
  if (signal?.aborted) return Promise.reject(new Error('cancelled'));
  output.write(question);
  return new Promise((resolve, reject) => {
    let text = '';
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    const onAbort = (): void => done(new Error('cancelled'));
    const done = (err?: Error): void => {
      signal?.removeEventListener('abort', onAbort);
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u0004') {
          if (text === '') return done(new Error('cancelled'));
        } else if (ch === '\u007f' || ch === '\b') {
          if (text.length > 0) {
            text = [...text].slice(0, -1).join('');
            if (!secret) output.write('\b \b');
          }
        } else if (ch === '\u0015') {
          if (!secret) output.write('\b \b'.repeat([...text].length));
          text = '';
        } else if (ch >= ' ') {
          text += ch;
          if (!secret) output.write(ch);
        }
      }
    };
    input.on('data', onData);
    signal?.addEventListener('abort', onAbort);
  });
}

/** Asks until the answer is yes or no (as OpenSSH's host key question). */
export async function askYesNo(
  io: PromptIo,
  question: string,
  signal?: AbortSignal,
): Promise<boolean> {
  for (;;) {
    const answer = (await askLine(io, question, false, signal)).trim().toLowerCase();
    if (answer === 'yes' || answer === 'y') return true;
    if (answer === 'no' || answer === 'n') return false;
    question = 'Please type yes or no: ';
  }
}
