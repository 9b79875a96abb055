/** What a command gets (its parsed words, a way to ask) and what it answers. */
export interface CommandIo {
  /** Asks a yes/no question (the screen shows a dialog; batch mode answers yes). */
  confirm(question: string): Promise<boolean>;
  /**
   * Batch mode: put/get return once their transfers have ended. The screen:
   * they return once queued and the queue reports the outcome.
   */
  readonly waitForTransfers: boolean;
  /** Shows a line at once, before the command ends (batch mode prints it). */
  say?(text: string): void;
}

export interface CommandResult {
  text?: string;
  /** `bye`: the session should end. */
  quit?: boolean;
  /** The command may have changed a listing or a working folder. */
  changed?: boolean;
}

export interface Parsed {
  args: string[];
  flags: Set<string>;
}
