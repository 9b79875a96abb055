/**
 * The full-screen client: local and remote panes side by side, the transfer
 * area, a log, the command line and a line of key hints. Every key arrives
 * here first and goes to whatever has the focus: a dialog, the command line,
 * or the panes. In the panes a printable key (other than q, ? and /) starts
 * a command, so typing "put x" just works; Esc returns to the panes. Only a
 * yes/no question holds the keyboard; the help closes at the first letter
 * typed, and that letter starts the command line.
 */
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import * as blessed from 'blessed';
import {
  UnknownCommandError,
  commandList,
  commandNames,
  describeFailure,
  executeLine,
  parseLine,
  type CommandIo,
} from '../commands';
import type { ClientSession } from '../session';
import { describeOutcome, type TransferJob } from '../transfer-queue';
import { ConfirmDialog, TextPopup } from './dialogs';
import { FilePane, PARENT, fit } from './file-pane';
import { commandCompleter } from '../completion';
import { LineEditor, complete, isPrintable, type Completer, type KeyLike } from './line-editor';
import { makeTheme, tag, type Theme } from './theme';
import { TransfersView } from './transfers-view';

export interface ScreenOptions {
  session: ClientSession;
  /** user@host:port, for the title. */
  title: string;
  env: NodeJS.ProcessEnv;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

type Side = 'local' | 'remote';

interface LineMode {
  prompt: string;
  submit(text: string): void;
  cancel?(): void;
  /** Called after every edit (the filter applies as you type). */
  live?(text: string): void;
  /** Tab completes the word before the cursor (the command line). */
  complete?: Completer;
}

const KEY_HELP = [
  'Tab / Left / Right  switch between the local and remote panes',
  'Up Down PgUp PgDn   move;  Home End: first and last entry',
  'Enter               open the folder;  Backspace: go up',
  'F5                  copy the selection to the other side',
  'F6                  rename the selection;  F7: make a folder',
  'F8                  delete the selection (asks first)',
  '/                   filter the pane;  Esc clears the filter',
  'Ctrl-R              reload both panes',
  'F1 or ?             this help;  F10 or q: quit',
  ':  or any letter    type a command;  Esc returns to the panes',
  'Mouse               click selects, click again opens',
].join('\n');

export function runScreen(o: ScreenOptions): Promise<number> {
  return new Promise((resolve) => {
    new App(o, resolve).start();
  });
}

class App {
  private readonly session: ClientSession;
  private readonly screen: blessed.Widgets.Screen;
  private readonly theme: Theme;
  private readonly titleBox: blessed.Widgets.BoxElement;
  private readonly panes: Record<Side, FilePane>;
  private readonly transfers: TransfersView;
  private readonly log: blessed.Widgets.Log;
  private readonly cmdBox: blessed.Widgets.BoxElement;
  private readonly hintBox: blessed.Widgets.BoxElement;
  private readonly editor = new LineEditor();
  private active: Side = 'remote';
  private line: LineMode | undefined;
  private modal: ConfirmDialog | TextPopup | undefined;
  /** Questions waiting for the open dialog to close, or for the command line being typed. */
  private readonly waitingConfirms: Array<() => void> = [];
  /** Without a UTF-8 locale blessed prints "?" for any other character. */
  private readonly unicode: boolean;
  private renderQueued = false;
  /** Quitting has begun: questions are answered no. */
  private closing = false;
  /** The screen is gone: nothing may draw. */
  private quitting = false;
  private connected = true;
  private readonly logged = new Set<number>();
  private readonly io: CommandIo;

  constructor(
    private readonly o: ScreenOptions,
    private readonly done: (code: number) => void,
  ) {
    this.session = o.session;
    this.screen = blessed.screen({
      smartCSR: true,
      title: `miniftp ${o.title}`,
      // @types/blessed swaps the two stream types; blessed reads input and writes output.
      input: o.input as unknown as Writable,
      output: o.output as unknown as Readable,
      autoPadding: true,
      warnings: false,
      dockBorders: false,
    });
    const tput = (
      this.screen as unknown as {
        tput?: { colors?: number; unicode?: boolean; numbers?: { U8?: number } };
      }
    ).tput;
    // The same test blessed uses before it replaces non-ASCII characters with "?".
    const unicode = tput?.unicode === true || tput?.numbers?.U8 === 1;
    this.unicode = unicode;
    this.theme = makeTheme(tput?.colors ?? 2, o.env, unicode);
    this.titleBox = blessed.box({ parent: this.screen, tags: true, style: this.theme.title });
    this.panes = {
      local: new FilePane(this.screen, 'local', this.theme),
      remote: new FilePane(this.screen, 'remote', this.theme),
    };
    this.transfers = new TransfersView(this.screen, this.theme);
    this.log = blessed.log({
      parent: this.screen,
      tags: true,
      scrollback: 1000,
      mouse: true,
      scrollOnInput: true,
    });
    this.cmdBox = blessed.box({ parent: this.screen, tags: true, clickable: true });
    this.hintBox = blessed.box({ parent: this.screen, tags: true, style: this.theme.title });
    this.io = { confirm: (q) => this.confirm(q), waitForTransfers: false };
  }

  start(): void {
    this.screen.program.hideCursor();
    this.layout();
    this.screen.on('resize', () => {
      this.layout();
      this.render();
    });
    this.screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg) =>
      this.onKey(ch, key),
    );
    for (const side of ['local', 'remote'] as const) {
      const list = this.panes[side].list;
      list.on('focus', () => this.activate(side));
      list.on('click', () => this.activate(side));
      // blessed emits 'select' when an already selected row is clicked again.
      list.on('select', () => {
        this.activate(side);
        void this.open();
      });
    }
    this.cmdBox.on('click', () => {
      if (!this.modal && !this.line) this.startCommand('');
    });
    this.session.queue.on('change', (job) => this.onTransfer(job));
    this.session.queue.onResumeRefused = (job, err) =>
      this.confirm(
        `${job.direction} ${job.label}: ${err.message}\n\n` +
          `Start over and replace the ${job.direction === 'put' ? 'server' : 'local'} file?`,
      );
    this.session.link?.on('state', (state, note) => {
      if (this.quitting) return;
      this.connected = state === 'connected';
      if (state === 'disconnected') this.error(note);
      else this.info(note);
      if (this.connected) void this.refresh();
      this.render();
    });
    this.session.link?.on('note', (note) => this.info(note));
    // The folders show in the pane titles before their first listing arrives.
    this.panes.local.where = this.session.localCwd;
    this.panes.remote.where = this.session.remoteCwd;
    this.activate('remote');
    this.info(`connected to ${this.o.title}; F1 or ? for help`);
    void this.refresh();
    this.render();
  }

  // ---- layout and drawing -------------------------------------------------------

  private layout(): void {
    const w = this.screen.width as number;
    const h = this.screen.height as number;
    const transferRows = h >= 30 ? 4 : h >= 20 ? 3 : 1;
    const logRows = h >= 30 ? 6 : h >= 20 ? 4 : 1;
    const paneRows = Math.max(3, h - 1 - transferRows - logRows - 2);
    const left = Math.floor(w / 2);
    const place = (
      el: blessed.Widgets.BlessedElement,
      top: number,
      x: number,
      width: number,
      height: number,
    ): void => {
      el.top = top;
      el.left = x;
      el.width = width;
      el.height = height;
    };
    place(this.titleBox, 0, 0, w, 1);
    place(this.panes.local.list, 1, 0, left, paneRows);
    place(this.panes.remote.list, 1, left, w - left, paneRows);
    place(this.transfers.box, 1 + paneRows, 0, w, transferRows);
    place(this.log, 1 + paneRows + transferRows, 0, w, logRows);
    place(this.cmdBox, h - 2, 0, w, 1);
    place(this.hintBox, h - 1, 0, w, 1);
    this.panes.local.render();
    this.panes.remote.render();
  }

  /** Redraws soon, once, however many changes come in meanwhile. */
  private render(): void {
    if (this.renderQueued || this.quitting) return;
    this.renderQueued = true;
    setImmediate(() => {
      this.renderQueued = false;
      if (this.quitting) return;
      this.drawTitle();
      this.drawCommandLine();
      this.drawHints();
      this.transfers.render(this.session.queue.jobs());
      this.screen.render();
    });
  }

  private drawTitle(): void {
    const w = this.screen.width as number;
    const q = this.session.queue.jobs();
    const running = q.filter((j) => j.state === 'running').length;
    const queued = q.filter((j) => j.state === 'queued').length;
    const state = !this.connected
      ? this.session.link?.state === 'reconnecting'
        ? 'RECONNECTING'
        : 'DISCONNECTED'
      : running + queued > 0
        ? `${running} running, ${queued} queued`
        : 'connected';
    const left = ` miniftp  ${this.o.title}`;
    const pad = Math.max(1, w - left.length - state.length - 1);
    const line = blessed.escape(fit(`${left}${' '.repeat(pad)}${state} `, w));
    // DISCONNECTED stands out: white on red (bold and underlined without colours).
    const loud = this.theme.color ? '{white-fg}{red-bg}{bold}' : '{bold}{underline}';
    this.titleBox.setContent(this.connected ? line : line.replace(state, `${loud}${state}{/}`));
  }

  private drawCommandLine(): void {
    const w = this.screen.width as number;
    if (!this.line) {
      const hint = 'type a command (help lists them)';
      this.cmdBox.setContent(`miniftp> ${tag(this.theme.dimTag, blessed.escape(hint))}`);
      return;
    }
    const prompt = this.line.prompt;
    const chars = [...this.editor.text];
    const room = Math.max(4, w - prompt.length - 1);
    const start = Math.max(0, this.editor.cursor - room + 1);
    const before = chars.slice(start, this.editor.cursor).join('');
    const at = chars[this.editor.cursor] ?? ' ';
    const after = chars.slice(this.editor.cursor + 1, start + room).join('');
    this.cmdBox.setContent(
      `{bold}${blessed.escape(prompt)}{/bold}${blessed.escape(before)}` +
        `{inverse}${blessed.escape(at)}{/inverse}${blessed.escape(after)}`,
    );
  }

  private drawHints(): void {
    const w = this.screen.width as number;
    let text: string;
    if (this.modal instanceof ConfirmDialog) text = ' y yes   n no';
    else if (this.modal) text = ' Esc close   arrows scroll   or type a command';
    else if (this.line) text = ' Enter run   Esc back to the panes   Up/Down history   F1 help';
    else if (w >= 80) {
      text = ' Tab pane Enter open BS up F5 copy F7 mkdir F8 del / filter F1 help F10 quit';
    } else text = ' Tab F5 copy F7 mkdir F8 del / F1 help F10 quit';
    this.hintBox.setContent(blessed.escape(fit(text, w)));
  }

  /** Log text, escaped for blessed and readable without a UTF-8 locale. */
  private logText(text: string): string {
    return blessed.escape(this.unicode ? text : text.replace(/\u2014/g, '-'));
  }

  private info(text: string, tagName = ''): void {
    for (const l of text.split('\n')) this.log.log(tag(tagName, this.logText(l)));
    this.render();
  }

  private error(text: string): void {
    this.info(text, this.theme.errorTag);
  }

  // ---- panes --------------------------------------------------------------------

  private activate(side: Side): void {
    this.active = side;
    this.panes.local.setActive(side === 'local');
    this.panes.remote.setActive(side === 'remote');
    this.render();
  }

  private other(): Side {
    return this.active === 'local' ? 'remote' : 'local';
  }

  /** Reloads one pane (or both), keeping the selected name when it is still there. */
  private async refresh(side?: Side, keep?: string): Promise<void> {
    const sides: Side[] = side ? [side] : ['local', 'remote'];
    await Promise.all(
      sides.map(async (s) => {
        const pane = this.panes[s];
        try {
          if (s === 'local') {
            pane.setEntries(this.session.localCwd, await this.session.listLocal(), keep);
          } else {
            pane.setEntries(this.session.remoteCwd, await this.session.listRemote(), keep);
          }
        } catch (err) {
          this.error(describeFailure(`list ${s === 'local' ? 'local' : 'remote'} folder`, err));
        }
      }),
    );
    this.render();
  }

  private cwd(side: Side): string {
    return side === 'local' ? this.session.localCwd : this.session.remoteCwd;
  }

  private async changeDir(side: Side, to: string, keep?: string): Promise<void> {
    try {
      if (side === 'local') await this.session.cdLocal(to);
      else await this.session.cdRemote(to);
    } catch (err) {
      this.error(describeFailure(`cd ${to}`, err));
      return;
    }
    this.panes[side].filter = '';
    this.panes[side].list.select(0);
    await this.refresh(side, keep ?? PARENT);
  }

  private async open(): Promise<void> {
    const row = this.panes[this.active].current();
    if (!row) return;
    if (!row.entry) return this.goUp();
    if (row.entry.isDir) return this.changeDir(this.active, row.name);
    this.info(`${row.name}: a file; F5 copies it to the other side`);
  }

  private async goUp(): Promise<void> {
    const side = this.active;
    const here = this.cwd(side);
    const parent = side === 'local' ? path.dirname(here) : path.posix.dirname(here);
    if (parent === here) return;
    const base = side === 'local' ? path.basename(here) : path.posix.basename(here);
    await this.changeDir(side, '..', base);
  }

  /** The selected entry's name, or undefined (with a note) when '..' or nothing is selected. */
  private selection(what: string): string | undefined {
    const row = this.panes[this.active].current();
    if (!row?.entry) {
      this.info(`select a file or folder to ${what}`);
      return undefined;
    }
    return row.name;
  }

  private async copySelection(): Promise<void> {
    const name = this.selection('copy');
    if (!name) return;
    try {
      const jobs =
        this.active === 'local'
          ? await this.session.put(name, undefined, false)
          : await this.session.get(name, undefined, false);
      const dir = this.active === 'local' ? 'put' : 'get';
      this.info(
        jobs.length === 1 ? `queued: ${dir} ${name}` : `queued: ${dir} ${jobs.length} files`,
      );
    } catch (err) {
      this.error(describeFailure(`${this.active === 'local' ? 'put' : 'get'} ${name}`, err));
    }
  }

  private makeFolder(): void {
    const side = this.active;
    this.ask(`New ${side} folder: `, async (name) => {
      if (name.trim() === '') return;
      try {
        if (side === 'local') await this.session.mkdirLocal(name);
        else await this.session.mkdirRemote(name);
        this.info(`made ${side} folder ${name}`);
        await this.refresh(side, name);
      } catch (err) {
        this.error(describeFailure(`mkdir ${name}`, err));
      }
    });
  }

  private renameSelection(): void {
    const side = this.active;
    const name = this.selection('rename');
    if (!name) return;
    this.ask(
      `Rename ${name} to: `,
      async (to) => {
        if (to.trim() === '' || to === name) return;
        try {
          if (side === 'local') await this.session.renameLocal(name, to);
          else await this.session.renameRemote(name, to);
          this.info(`renamed ${name} to ${to}`);
          await this.refresh(side, to);
        } catch (err) {
          this.error(describeFailure(`rename ${name}`, err));
        }
      },
      name,
    );
  }

  private async deleteSelection(): Promise<void> {
    const side = this.active;
    const row = this.panes[side].current();
    const name = this.selection('delete');
    if (!name || !row?.entry) return;
    const what = row.entry.isDir
      ? `the ${side} folder ${name} and everything in it`
      : `the ${side} file ${name}`;
    if (!(await this.confirm(`Delete ${what}?`))) return;
    try {
      const yes = async (): Promise<boolean> => true;
      if (side === 'local') await this.session.removeLocal(name, yes);
      else await this.session.removeRemote(name, yes);
      this.info(`deleted ${name}`);
      await this.refresh(side);
    } catch (err) {
      this.error(describeFailure(`rm ${name}`, err));
    }
  }

  private startFilter(): void {
    const pane = this.panes[this.active];
    const before = pane.filter;
    this.line = {
      prompt: 'filter: ',
      submit: () => undefined,
      cancel: () => {
        pane.filter = '';
        pane.render();
      },
      live: (text) => {
        pane.filter = text;
        pane.render();
      },
    };
    this.editor.set(before);
    this.render();
  }

  // ---- the command line -----------------------------------------------------------

  private startCommand(first: string): void {
    this.line = {
      prompt: 'miniftp> ',
      submit: (text) => {
        this.editor.remember(text);
        void this.runCommand(text);
      },
      complete: commandCompleter(this.session),
    };
    this.editor.clear();
    if (first) this.editor.insert(first);
    this.render();
  }

  /** Asks for one line on the command line row. */
  private ask(prompt: string, then: (text: string) => Promise<void>, initial = ''): void {
    this.line = { prompt, submit: (text) => void then(text) };
    this.editor.set(initial);
    this.render();
  }

  private async runCommand(line: string): Promise<void> {
    if (line.trim() === '') return;
    this.log.log(tag(this.theme.dimTag, blessed.escape(`> ${line}`)));
    try {
      // The log shows a few rows only: the bare list goes in the scrollable help.
      const found = parseLine(line);
      if (found?.spec.name === 'help' && found.parsed.args.length === 0) {
        this.help(true);
        return;
      }
      const result = await executeLine(this.session, this.io, line);
      if (result.text) this.info(result.text);
      if (result.quit) {
        await this.requestQuit();
        return;
      }
      if (result.changed) await this.refresh();
    } catch (err) {
      if (err instanceof UnknownCommandError) {
        // Two lines in the log, not a dialog: the next thing the user types
        // (the right command, or bye) must reach the command line.
        this.error(err.hint);
        this.info(commandNames(), this.theme.dimTag);
      } else this.error(describeFailure(line, err));
    }
    this.render();
  }

  // ---- dialogs ----------------------------------------------------------------------

  /**
   * A yes/no dialog. Questions asked while one is open wait their turn, and
   * so do questions that come while a command is being typed (a transfer's
   * refused resume): otherwise the y or n of a word typed would answer them.
   */
  private confirm(question: string): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const show = (): void => {
        this.modal = new ConfirmDialog(this.screen, this.theme, question, (yes) => {
          this.modal = undefined;
          resolve(yes);
          this.nextDialog();
          this.render();
        });
        this.render();
      };
      this.waitingConfirms.push(show);
      if (this.line && !this.modal) this.info('a question waits: it opens after Enter or Esc');
      this.nextDialog();
    });
  }

  /** Shows the next waiting question once nothing else has the keyboard. */
  private nextDialog(): void {
    if (!this.modal && !this.line) this.waitingConfirms.shift()?.();
  }

  private showPopup(label: string, text: string): void {
    if (this.modal) return;
    this.modal = new TextPopup(this.screen, this.theme, label, text);
    this.render();
  }

  /** The keys and the commands; `commandsFirst` when the user typed `help`. */
  private help(commandsFirst = false): void {
    const keys = `Keys\n${KEY_HELP}`;
    const commands = `Commands\n${commandList()}`;
    this.showPopup('Help', commandsFirst ? `${commands}\n\n${keys}` : `${keys}\n\n${commands}`);
  }

  // ---- transfers and quitting -------------------------------------------------------

  private onTransfer(job: TransferJob): void {
    if (
      (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') &&
      !this.logged.has(job.id)
    ) {
      this.logged.add(job.id);
      const text = describeOutcome(job, false);
      if (job.state === 'done') this.info(text);
      else this.error(text);
      void this.refresh(job.direction === 'put' ? 'remote' : 'local');
    }
    this.render();
  }

  private async requestQuit(): Promise<void> {
    const pending = this.session.queue.pending();
    if (pending > 0) {
      const ok = await this.confirm(
        `${pending} transfer(s) not finished. Quit anyway? A partial upload resumes next time.`,
      );
      if (!ok) return;
    }
    await this.quit();
  }

  private async quit(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // A transfer may be waiting on a question (a refused resume): answer no.
    this.line = undefined;
    for (;;) {
      if (this.modal instanceof ConfirmDialog) this.modal.close(false);
      else if (this.modal) {
        this.modal.close();
        this.modal = undefined;
      } else if (this.waitingConfirms.length > 0) this.nextDialog();
      else break;
    }
    this.session.queue.cancelAll();
    await this.session.queue.idle();
    this.quitting = true;
    this.screen.destroy();
    this.done(0);
  }

  // ---- keys ---------------------------------------------------------------------------

  private onKey(ch: string | undefined, key: KeyLike & { full?: string }): void {
    if (this.quitting) return;
    if (key.full === 'C-c') {
      void this.quit();
      return;
    }
    if (this.modal instanceof ConfirmDialog) {
      this.modal.key(ch, key);
      this.render();
      return;
    }
    if (this.modal) {
      const r = this.modal.key(ch, key);
      if (r !== 'keep') {
        this.modal = undefined;
        // The help may have opened over a half-typed command: add to it.
        if (r === 'typed' && this.line) this.lineKey(ch, key);
        else if (r === 'typed') this.startCommand(ch ?? '');
        this.nextDialog();
      }
      this.render();
      return;
    }
    if (this.line) {
      this.lineKey(ch, key);
      return;
    }
    this.paneKey(ch, key);
  }

  private lineKey(ch: string | undefined, key: KeyLike): void {
    const mode = this.line as LineMode;
    const r = this.editor.key(ch, key);
    if (r === 'submit' || r === 'cancel') {
      const text = this.editor.text;
      this.line = undefined;
      if (r === 'submit') mode.submit(text);
      else mode.cancel?.();
      this.nextDialog();
    } else if (r === 'edited') mode.live?.(this.editor.text);
    else if (key.name === 'tab' && mode.complete) {
      void complete(this.editor, mode.complete).then((more) => {
        if (more.length > 0) this.info(more.join('  '), this.theme.dimTag);
        this.render();
      });
    } else if (key.name === 'f1') this.help();
    else if (key.name === 'f10') {
      // Leave the line first: the question about running transfers waits while one is typed.
      this.line = undefined;
      mode.cancel?.();
      void this.requestQuit();
    }
    this.render();
  }

  private paneKey(ch: string | undefined, key: KeyLike & { full?: string }): void {
    const pane = this.panes[this.active];
    switch (key.full ?? key.name) {
      case 'tab':
      case 'S-tab':
        this.activate(this.other());
        return;
      case 'left':
        this.activate('local');
        return;
      case 'right':
        this.activate('remote');
        return;
      case 'up':
        pane.move(-1);
        break;
      case 'down':
        pane.move(1);
        break;
      case 'pageup':
        pane.move(-pane.pageSize());
        break;
      case 'pagedown':
        pane.move(pane.pageSize());
        break;
      case 'home':
        pane.moveTo('first');
        break;
      case 'end':
        pane.moveTo('last');
        break;
      case 'enter':
      case 'linefeed':
        void this.open();
        return;
      case 'backspace':
        void this.goUp();
        return;
      case 'f5':
        void this.copySelection();
        return;
      case 'f6':
        this.renameSelection();
        return;
      case 'f7':
        this.makeFolder();
        return;
      case 'f8':
        void this.deleteSelection();
        return;
      case 'f1':
        this.help();
        return;
      case 'f10':
        void this.requestQuit();
        return;
      case 'C-r':
      case 'f2':
        void this.refresh();
        return;
      case 'escape':
        if (pane.filter) {
          pane.filter = '';
          pane.render();
        }
        break;
      default:
        if (ch === 'q') void this.requestQuit();
        else if (ch === '?') this.help();
        else if (ch === '/') this.startFilter();
        else if (ch === ':') this.startCommand('');
        else if (isPrintable(ch) && !(key as { ctrl?: boolean }).ctrl) this.startCommand(ch);
        return;
    }
    this.render();
  }
}
