/** The blessed screen the client draws on, and what the terminal can show. */
import type { Readable, Writable } from 'node:stream';
import * as blessed from 'blessed';
import { teachBlessedWidths } from './cells';

export interface TerminalScreen {
  screen: blessed.Widgets.Screen;
  /** Without a UTF-8 locale blessed prints "?" for any other character. */
  unicode: boolean;
  colors: number;
}

export function createScreen(
  title: string,
  input: NodeJS.ReadableStream | undefined,
  output: NodeJS.WritableStream | undefined,
): TerminalScreen {
  teachBlessedWidths();
  const screen = blessed.screen({
    smartCSR: true,
    title: `miniftp ${title}`,
    // @types/blessed swaps the two stream types; blessed reads input and writes output.
    input: input as unknown as Writable,
    output: output as unknown as Readable,
    autoPadding: true,
    warnings: false,
    dockBorders: false,
    // Wide characters (CJK, emoji) take two cells, combining marks none.
    fullUnicode: true,
  });
  const tput = (
    screen as unknown as {
      tput?: { colors?: number; unicode?: boolean; numbers?: { U8?: number } };
    }
  ).tput;
  // The same test blessed uses before it replaces non-ASCII characters with "?".
  const unicode = tput?.unicode === true || tput?.numbers?.U8 === 1;
  return { screen, unicode, colors: tput?.colors ?? 2 };
}
