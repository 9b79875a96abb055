/**
 * Colours, or their absence: on a terminal with fewer than 8 colours, or when
 * NO_COLOR is set, everything is drawn with inverse and bold only; the bars
 * are ASCII there and wherever the locale is not UTF-8.
 */

export interface Theme {
  readonly color: boolean;
  readonly barFull: string;
  readonly barEmpty: string;
  /** Blessed style objects. */
  readonly title: Record<string, unknown>;
  readonly paneBorder: Record<string, unknown>;
  readonly paneBorderActive: Record<string, unknown>;
  readonly selected: Record<string, unknown>;
  readonly selectedInactive: Record<string, unknown>;
  readonly dialog: Record<string, unknown>;
  /** Blessed tag names (used as {name}…{/name}); empty for none. */
  readonly dirTag: string;
  readonly errorTag: string;
  readonly okTag: string;
  readonly dimTag: string;
  /** Marked entries in a pane. */
  readonly markTag: string;
}

export function makeTheme(colors: number, env: NodeJS.ProcessEnv, unicode = true): Theme {
  const color = colors >= 8 && env.NO_COLOR === undefined;
  if (!color) {
    return {
      color,
      barFull: '#',
      barEmpty: '-',
      title: { inverse: true },
      paneBorder: {},
      paneBorderActive: { bold: true },
      selected: { inverse: true },
      selectedInactive: { underline: true },
      dialog: { inverse: false },
      dirTag: 'bold',
      errorTag: 'bold',
      okTag: '',
      dimTag: '',
      markTag: 'bold',
    };
  }
  return {
    color,
    // Without a UTF-8 locale blessed prints "?" for these.
    barFull: unicode ? '\u2588' : '#',
    barEmpty: unicode ? '\u2591' : '-',
    title: { fg: 'white', bg: 'blue', bold: true },
    // Plain white, not gray: many dark themes draw "bright black" as black.
    paneBorder: { fg: 'white' },
    paneBorderActive: { fg: 'cyan', bold: true },
    selected: { fg: 'black', bg: 'cyan' },
    selectedInactive: { fg: 'white', bg: 'blue' },
    dialog: { fg: 'white', bg: 'blue', border: { fg: 'white', bg: 'blue' } },
    dirTag: 'light-cyan-fg',
    errorTag: 'red-fg',
    okTag: 'green-fg',
    dimTag: 'gray-fg',
    markTag: 'yellow-fg',
  };
}

/** Wraps already-escaped text in a tag, or returns it as is when the tag is empty. */
export function tag(name: string, text: string): string {
  return name === '' ? text : `{${name}}${text}{/${name}}`;
}
