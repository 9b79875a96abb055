/**
 * The dialogs' turns: one dialog at a time; questions asked while one is
 * open wait, and so do questions that come while a line is being typed (a
 * transfer's refused resume), or the y or n of a word typed would answer them.
 */
import type * as blessed from 'blessed';
import { ChoiceDialog, TextPopup, YES_NO, type Choice, type Chosen } from './dialogs';
import type { Theme } from './theme';

export class DialogFlow {
  modal: ChoiceDialog<string> | TextPopup | undefined;
  private readonly waiting: Array<() => void> = [];
  /** Quitting: every question is answered with its safe answer. */
  closing = false;

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    private readonly theme: Theme,
    /** Whether a line is being typed (questions wait for it). */
    private readonly lineBusy: () => boolean,
    private readonly note: (text: string) => void,
    private readonly render: () => void,
  ) {}

  choose<T extends string>(
    question: string,
    choices: ReadonlyArray<Choice<T>>,
    fallback: T,
    offerAll: boolean,
  ): Promise<Chosen<T>> {
    if (this.closing) return Promise.resolve({ value: fallback, forAll: false });
    return new Promise((resolve) => {
      const show = (): void => {
        this.modal = new ChoiceDialog(
          this.screen,
          this.theme,
          question,
          choices,
          fallback,
          offerAll,
          (chosen) => {
            this.modal = undefined;
            resolve(chosen);
            this.next();
            this.render();
          },
        ) as unknown as ChoiceDialog<string>;
        this.render();
      };
      this.waiting.push(show);
      if (this.lineBusy() && !this.modal)
        this.note('a question waits: it opens after Enter or Esc');
      this.next();
    });
  }

  async confirm(question: string): Promise<boolean> {
    return (await this.choose(question, YES_NO, 'no', false)).value === 'yes';
  }

  /** Shows the next waiting question once nothing else has the keyboard. */
  next(): void {
    if (!this.modal && !this.lineBusy()) this.waiting.shift()?.();
  }

  popup(label: string, text: string): void {
    if (this.modal) return;
    this.modal = new TextPopup(this.screen, this.theme, label, text);
    this.render();
  }

  /** Answers every open and waiting question with its safe answer. */
  closeAll(): void {
    this.closing = true;
    for (;;) {
      if (this.modal instanceof ChoiceDialog) this.modal.dismiss();
      else if (this.modal) {
        this.modal.close();
        this.modal = undefined;
      } else if (this.waiting.length > 0) this.waiting.shift()?.();
      else break;
    }
  }
}
