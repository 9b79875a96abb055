/** The server's --help text: every setting with its flag, environment variable and default. */
import { type Setting } from './formats';
import { configSchema, listSettings } from './schema';

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === '--help' || arg === '-h');
}

/** Usage text: every flag with its environment variable, file key, default and description. */
export function configHelp(): string {
  const lines = [
    'Usage: miniftp-server [options]',
    '',
    'Settings are read, lowest priority first, from built-in defaults, config/default.json,',
    'each --config FILE, MINIFTP_* environment variables, then flags. A flag takes',
    '--flag VALUE or --flag=VALUE. Sizes take K, M, G, T suffixes, all 1024-based.',
    ...helpEntry({ flag: '--help', text: 'Print this help and exit.' }),
    ...helpEntry({
      flag: '--config FILE',
      text: 'Read settings from a JSON file shaped like config/default.json; may be given more than once.',
    }),
  ];
  for (const { path: key, setting } of listSettings(configSchema())) {
    const flag =
      setting.format === 'bool'
        ? `--${setting.arg}[=false], --no-${setting.arg}`
        : `--${setting.arg} ${PLACEHOLDERS[setting.format]}`;
    const fallback = setting.default === '' ? '(empty)' : String(setting.default);
    const sources = `env ${setting.env}, file key ${key}, default ${fallback}`;
    lines.push(...helpEntry({ flag, sources, text: setting.doc }));
  }
  return `${lines.join('\n')}\n`;
}

const PLACEHOLDERS: Readonly<Record<Setting['format'], string>> = {
  text: 'TEXT',
  path: 'DIR',
  count: 'N',
  size: 'SIZE',
  umask: 'MODE',
  bool: '',
  'log-level': 'LEVEL',
  listen: 'HOST:PORT',
  url: 'URL',
  'store-url': 'URL',
  duration: 'TIME',
  'cidr-list': 'LIST',
  workers: 'N|auto',
};

const HELP_INDENT = '      ';

function helpEntry(entry: { flag: string; sources?: string; text: string }): string[] {
  const lines = ['', `  ${entry.flag}`];
  if (entry.sources) lines.push(`${HELP_INDENT}${entry.sources}`);
  let line = HELP_INDENT;
  for (const word of entry.text.split(' ')) {
    if (line !== HELP_INDENT && line.length + 1 + word.length > 100) {
      lines.push(line);
      line = HELP_INDENT;
    }
    line += line === HELP_INDENT ? word : ` ${word}`;
  }
  lines.push(line);
  return lines;
}
