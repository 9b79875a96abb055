/** What the parts of the screen (keys, pane actions, transfer watch) need from it. */
import type * as blessed from 'blessed';
import type { ClientSession } from '../session';
import type { Choice, Chosen } from './dialogs';
import type { FilePane } from './file-pane';
import type { Theme } from './theme';

export type Side = 'local' | 'remote';

export interface ScreenContext {
  readonly session: ClientSession;
  readonly screen: blessed.Widgets.Screen;
  readonly theme: Theme;
  readonly panes: Record<Side, FilePane>;
  /** The pane with the keyboard. */
  readonly active: Side;
  info(text: string, tagName?: string): void;
  error(text: string): void;
  confirm(question: string): Promise<boolean>;
  choose<T extends string>(
    question: string,
    choices: ReadonlyArray<Choice<T>>,
    fallback: T,
    offerAll: boolean,
  ): Promise<Chosen<T>>;
  /** Asks for one line on the command line row. */
  ask(prompt: string, then: (text: string) => Promise<void>, initial?: string): void;
  refresh(side?: Side, keep?: string): Promise<void>;
  render(): void;
}
