/**
 * The full-screen client: local and remote panes side by side, the transfer
 * area, a log, the command line and a line of key hints. Every key arrives
 * here first and goes to whatever has the focus: a dialog, the command line,
 * or the panes (pane-keys.ts). In the panes a printable key (other than the
 * few listed in the help) starts a command, so typing "put x" just works; Esc
 * returns to the panes. Only a question holds the keyboard; the help closes
 * at the first letter typed, and that letter starts the command line.
 */
import * as blessed from 'blessed';
import { commandList, describeFailure, type CommandIo } from '../commands';
import type { ClientSession } from '../session';
import { createScreen } from './blessed-screen';
import type { ScreenContext, Side } from './context';
import { DialogFlow } from './dialog-flow';
import { ChoiceDialog, type Choice, type Chosen } from './dialogs';
import { FilePane, fit } from './file-pane';
import { editFile, viewFile } from './file-view';
import { layoutScreen } from './layout';
import * as nav from './navigation';
import { commandLineText, helpText, hints, titleText } from './help';
import { CommandLine } from './command-line';
import { commandCompleter } from '../completion';
import type { KeyLike } from './line-editor';
import * as actions from './pane-actions';
import { runCommandLine } from './command-run';
import * as queueActions from './queue-actions';
import { paneKey, type FullKey, type PaneKeyActions } from './pane-keys';
import { makeTheme, tag, type Theme } from './theme';
import { TransferWatch } from './transfer-watch';
import { TransfersView } from './transfers-view';

export interface ScreenOptions {
  session: ClientSession;
  /** user@host:port, for the title. */
  title: string;
  env: NodeJS.ProcessEnv;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

export function runScreen(o: ScreenOptions): Promise<number> {
  return new Promise((resolve) => {
    new App(o, resolve).start();
  });
}

class App implements ScreenContext {
  readonly session: ClientSession;
  readonly screen: blessed.Widgets.Screen;
  readonly theme: Theme;
  readonly panes: Record<Side, FilePane>;
  private readonly titleBox: blessed.Widgets.BoxElement;
  private readonly transfers: TransfersView;
  private readonly log: blessed.Widgets.Log;
  private readonly cmdBox: blessed.Widgets.BoxElement;
  private readonly hintBox: blessed.Widgets.BoxElement;
  private readonly cmd = new CommandLine();
  private readonly dialogs: DialogFlow;
  private readonly watch: TransferWatch;
  active: Side = 'remote';
  /** Without a UTF-8 locale blessed prints "?" for any other character. */
  private readonly unicode: boolean;
  private renderQueued = false;
  /** The screen is gone: nothing may draw. */
  private quitting = false;
  private connected = true;
  private readonly io: CommandIo;
  private readonly keys: PaneKeyActions;

  constructor(
    private readonly o: ScreenOptions,
    private readonly done: (code: number) => void,
  ) {
    this.session = o.session;
    const { screen, unicode, colors } = createScreen(o.title, o.input, o.output);
    this.screen = screen;
    this.unicode = unicode;
    this.theme = makeTheme(colors, o.env, unicode);
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
    this.dialogs = new DialogFlow(
      this.screen,
      this.theme,
      () => this.cmd.busy,
      (t) => this.info(t),
      () => this.render(),
    );
    this.io = { confirm: (q) => this.confirm(q), waitForTransfers: false };
    this.watch = new TransferWatch(this);
    this.keys = this.paneActions();
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
        void nav.open(this);
      });
    }
    this.cmdBox.on('click', () => {
      if (!this.dialogs.modal && !this.cmd.busy) this.startCommand('');
    });
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
    layoutScreen(this.screen, {
      title: this.titleBox,
      local: this.panes.local.list,
      remote: this.panes.remote.list,
      transfers: this.transfers.box,
      log: this.log,
      command: this.cmdBox,
      hints: this.hintBox,
    });
    this.panes.local.render();
    this.panes.remote.render();
  }

  /** Redraws soon, once, however many changes come in meanwhile. */
  render(): void {
    if (this.renderQueued || this.quitting) return;
    this.renderQueued = true;
    setImmediate(() => {
      this.renderQueued = false;
      if (this.quitting) return;
      this.drawTitle();
      this.drawCommandLine();
      this.drawHints();
      const where = { localCwd: this.session.localCwd, remoteCwd: this.session.remoteCwd };
      this.transfers.render(this.session.queue.jobs(), where, this.session.queue.paused);
      this.screen.render();
    });
  }

  private drawTitle(): void {
    const q = this.session.queue;
    const reconnecting = this.session.link?.state === 'reconnecting';
    const text = titleText(this.o.title, this.screen.width as number, q.jobs(), {
      connected: this.connected,
      reconnecting,
      paused: q.paused,
    });
    const line = blessed.escape(text);
    if (this.connected) {
      this.titleBox.setContent(line);
      return;
    }
    // DISCONNECTED stands out: white on red (bold and underlined without colours).
    const state = reconnecting ? 'RECONNECTING' : 'DISCONNECTED';
    const loud = this.theme.color ? '{white-fg}{red-bg}{bold}' : '{bold}{underline}';
    this.titleBox.setContent(line.replace(state, `${loud}${state}{/}`));
  }

  private drawCommandLine(): void {
    const w = this.screen.width as number;
    this.cmdBox.setContent(commandLineText(this.cmd.mode?.prompt, this.cmd.editor, w, this.theme));
  }

  private drawHints(): void {
    const w = this.screen.width as number;
    const modal = this.dialogs.modal;
    const state =
      modal instanceof ChoiceDialog ? 'choice' : modal ? 'popup' : this.cmd.busy ? 'line' : 'panes';
    this.hintBox.setContent(blessed.escape(fit(hints(state, w), w)));
  }

  /** Log text, escaped for blessed and readable without a UTF-8 locale. */
  private logText(text: string): string {
    return blessed.escape(this.unicode ? text : text.replace(/\u2014/g, '-'));
  }

  info(text: string, tagName = ''): void {
    for (const l of text.split('\n')) this.log.log(tag(tagName, this.logText(l)));
    this.render();
  }

  error(text: string): void {
    this.info(text, this.theme.errorTag);
  }

  // ---- panes --------------------------------------------------------------------

  private activate(side: Side): void {
    this.active = side;
    this.panes.local.setActive(side === 'local');
    this.panes.remote.setActive(side === 'remote');
    this.render();
  }

  /** Reloads one pane (or both), keeping the selected name when it is still there. */
  async refresh(side?: Side, keep?: string): Promise<void> {
    const sides: Side[] = side ? [side] : ['local', 'remote'];
    await Promise.all(
      sides.map(async (s) => {
        const pane = this.panes[s];
        try {
          if (s === 'local') {
            pane.setEntries(this.session.localCwd, await this.session.listLocal(), keep);
          } else {
            const [entries, note] = await Promise.all([
              this.session.listRemote(),
              this.watch.roomNote(),
            ]);
            pane.note = note;
            pane.setEntries(this.session.remoteCwd, entries, keep);
          }
        } catch (err) {
          this.error(describeFailure(`list ${s === 'local' ? 'local' : 'remote'} folder`, err));
        }
      }),
    );
    this.render();
  }

  private startFilter(): void {
    const pane = this.panes[this.active];
    this.cmd.filter(pane.filter, (text) => {
      pane.filter = text;
      pane.render();
    });
    this.render();
  }

  // ---- the command line -----------------------------------------------------------

  private startCommand(first: string): void {
    this.cmd.command(first, (text) => void this.runCommand(text), commandCompleter(this.session));
    this.render();
  }

  ask(prompt: string, then: (text: string) => Promise<void>, initial = ''): void {
    this.cmd.ask(prompt, then, initial);
    this.render();
  }

  private async runCommand(line: string): Promise<void> {
    if (line.trim() === '') return;
    this.log.log(tag(this.theme.dimTag, blessed.escape(`> ${line}`)));
    await runCommandLine(this, line, {
      io: this.io,
      help: () => this.help(true),
      quit: () => this.requestQuit(),
    });
  }

  // ---- dialogs ----------------------------------------------------------------------

  confirm(question: string): Promise<boolean> {
    return this.dialogs.confirm(question);
  }

  choose<T extends string>(
    question: string,
    choices: ReadonlyArray<Choice<T>>,
    fallback: T,
    offerAll: boolean,
  ): Promise<Chosen<T>> {
    return this.dialogs.choose(question, choices, fallback, offerAll);
  }

  /** The keys and the commands; `commandsFirst` when the user typed `help`. */
  private help(commandsFirst = false): void {
    this.dialogs.popup('Help', helpText(commandList(), commandsFirst));
  }

  // ---- transfers and quitting -------------------------------------------------------

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
    if (this.dialogs.closing) return;
    // A transfer may be waiting on a question (a refused resume): answer no.
    this.cmd.mode = undefined;
    this.dialogs.closeAll();
    this.session.queue.cancelAll();
    await this.session.queue.idle();
    this.quitting = true;
    this.screen.destroy();
    this.done(0);
  }

  // ---- keys ---------------------------------------------------------------------------

  private paneActions(): PaneKeyActions {
    return {
      pane: () => this.panes[this.active],
      activate: (s) => this.activate(s),
      open: () => void nav.open(this),
      goUp: () => void nav.goUp(this),
      copy: () => void actions.copyTargets(this),
      view: () => void viewFile(this, (l, t) => this.dialogs.popup(l, t)),
      edit: () => void editFile(this, this.o.env),
      rename: () => actions.renameTargets(this),
      mkdir: () => actions.makeFolder(this),
      remove: () => void actions.deleteTargets(this),
      chmod: () => actions.chmodTargets(this),
      markPattern: (mark) => actions.markPattern(this, mark),
      help: () => this.help(),
      quit: () => void this.requestQuit(),
      refresh: () => void this.refresh(),
      filter: () => this.startFilter(),
      command: (first) => this.startCommand(first),
      scrollLog: (pages) => {
        this.log.scroll(pages * Math.max(1, (this.log.height as number) - 1));
        this.render();
      },
      cancelTransfer: () => queueActions.cancelTransfer(this),
      togglePause: () => queueActions.togglePause(this),
      dismissEnded: () => queueActions.dismissEnded(this),
      note: (t) => this.info(t),
      render: () => this.render(),
    };
  }

  private onKey(ch: string | undefined, key: FullKey): void {
    if (this.quitting) return;
    const modal = this.dialogs.modal;
    if (modal instanceof ChoiceDialog) {
      modal.key(ch, key);
      this.render();
      return;
    }
    if (key.full === 'C-c') {
      // As F10: a question first while transfers run.
      this.cmd.leave();
      void this.requestQuit();
      return;
    }
    if (modal) {
      const r = modal.key(ch, key);
      if (r !== 'keep') {
        this.dialogs.modal = undefined;
        // The help may have opened over a half-typed command: add to it.
        if (r === 'typed' && this.cmd.busy) this.lineKey(ch, key);
        else if (r === 'typed') this.startCommand(ch ?? '');
        this.dialogs.next();
      }
      this.render();
      return;
    }
    if (this.cmd.busy) {
      this.lineKey(ch, key);
      return;
    }
    paneKey(this.keys, ch, key);
  }

  private lineKey(ch: string | undefined, key: KeyLike): void {
    const r = this.cmd.key(ch, key);
    if (r === 'ended') this.dialogs.next();
    else if (r === 'tab') {
      void this.cmd.complete().then((more) => {
        if (more.length > 0) this.info(more.join('  '), this.theme.dimTag);
        this.render();
      });
    } else if (r === 'f1') this.help();
    else if (r === 'f10') {
      // Leave the line first: the question about running transfers waits while one is typed.
      this.cmd.leave();
      void this.requestQuit();
    }
    this.render();
  }
}
