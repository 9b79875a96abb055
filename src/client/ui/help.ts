/** The key help, the title row, the command line row and the hint line. */
import * as blessed from 'blessed';
import type { TransferJob } from '../transfer-queue';
import { fitCells } from './cells';
import type { LineEditor } from './line-editor';
import { tag, type Theme } from './theme';

export const KEY_HELP = [
  'Tab / Left / Right  switch between the local and remote panes',
  'Up Down PgUp PgDn   move;  Home End: first and last entry',
  'Enter               open the folder;  Backspace: go up',
  'Insert or Space     mark or unmark the entry, then move down',
  '+ / -               mark / unmark the entries matching a pattern',
  '*                   mark all (again: none)',
  'The selection is the marked entries, or the one under the cursor:',
  'F5                  copy the selection to the other side',
  'F6                  rename or move the selection;  F7: make a folder',
  'F8 or Delete        delete the selection (asks first)',
  'F9                  change the permissions of the selection (644)',
  'F3 / F4             view the file / edit it with $EDITOR',
  '                    (a remote file is uploaded back when saved)',
  'Ctrl-S              sort by name, size or time;  Ctrl-V: reverse',
  '.                   show or hide the hidden files (.name)',
  '/                   filter the pane;  Esc clears the filter',
  'Ctrl-R or F2        reload both panes',
  'Shift-PgUp/PgDn     scroll the log;  also Ctrl-Up / Ctrl-Down',
  '                    and the mouse wheel over the log',
  'Ctrl-X              cancel a transfer (asks which; "all" for all)',
  'Ctrl-P              pause the queue, or go on',
  'Ctrl-D              dismiss the ended transfers (failed ones stay',
  '                    listed, with their reason, until then)',
  'F1 or ?             this help',
  'F10, q or Ctrl-C    quit (asks first while transfers run)',
  ':  or any letter    type a command;  Esc returns to the panes',
  'Mouse               click selects, click again opens',
  '',
  'miniftp --parallel N (or MINIFTP_PARALLEL=N) runs N transfers at once.',
].join('\n');

/** The help popup: the keys and the commands, commands first when `help` was typed. */
export function helpText(commandList: string, commandsFirst: boolean): string {
  const keys = `Keys\n${KEY_HELP}`;
  const commands = `Commands\n${commandList}`;
  return commandsFirst ? `${commands}\n\n${keys}` : `${keys}\n\n${commands}`;
}

export type HintState = 'choice' | 'popup' | 'line' | 'panes';

/** The hint line for what has the keyboard. */
export function hints(state: HintState, width: number): string {
  switch (state) {
    case 'choice':
      return ' answer with the keys shown;  Esc: the safe answer';
    case 'popup':
      return ' Esc close   arrows scroll   or type a command';
    case 'line':
      return ' Enter run   Esc back to the panes   Up/Down history   F1 help';
    case 'panes':
      if (width >= 100) {
        return ' Tab pane Ins mark F3 view F4 edit F5 copy F6 move F7 mkdir F8 del F9 chmod F1 help F10 quit';
      }
      if (width >= 80) {
        return ' Tab Ins mark F3 view F5 copy F6 move F7 mkdir F8 del F1 help F10 quit';
      }
      return ' Tab F5 copy F6 mv F7 mkdir F8 del F1 help F10 quit';
  }
}

/** The title row: the connection on the left, the queue's state on the right. */
export function titleText(
  title: string,
  width: number,
  jobs: readonly TransferJob[],
  o: { connected: boolean; reconnecting?: boolean; paused: boolean },
): string {
  const count = (s: string): number => jobs.filter((j) => j.state === s).length;
  const running = count('running');
  const queued = count('queued');
  const failed = count('failed');
  const parts = [
    !o.connected
      ? o.reconnecting
        ? 'RECONNECTING'
        : 'DISCONNECTED'
      : running + queued > 0
        ? `${running} running, ${queued} queued`
        : 'connected',
  ];
  if (o.paused) parts.push('PAUSED');
  if (failed > 0) parts.push(`${failed} FAILED`);
  const state = parts.join(', ');
  const left = ` miniftp  ${title}`;
  const pad = Math.max(1, width - left.length - state.length - 1);
  return fitCells(`${left}${' '.repeat(pad)}${state} `, width);
}

/** The command line row (tagged): the idle hint, or the prompt, the text and the cursor. */
export function commandLineText(
  prompt: string | undefined,
  editor: LineEditor,
  width: number,
  theme: Theme,
): string {
  if (prompt === undefined) {
    const hint = 'type a command (help lists them)';
    return `miniftp> ${tag(theme.dimTag, blessed.escape(hint))}`;
  }
  const chars = [...editor.text];
  const room = Math.max(4, width - prompt.length - 1);
  const start = Math.max(0, editor.cursor - room + 1);
  const before = chars.slice(start, editor.cursor).join('');
  const at = chars[editor.cursor] ?? ' ';
  const after = chars.slice(editor.cursor + 1, start + room).join('');
  return (
    `{bold}${blessed.escape(prompt)}{/bold}${blessed.escape(before)}` +
    `{inverse}${blessed.escape(at)}{/inverse}${blessed.escape(after)}`
  );
}
