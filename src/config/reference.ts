/**
 * The settings table of docs/configuration.md, made from the schema so that the page cannot drift
 * from what the server accepts. `npm run docs:config` rewrites the table in place; a unit test
 * fails when the page is stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configSchema, listSettings } from './schema';

export const REFERENCE_START =
  '<!-- settings: made by `npm run docs:config` from src/config/schema.ts -->';
export const REFERENCE_END = '<!-- end of settings -->';

/** The page this table lives in, from the compiled file's place in dist/. */
export const REFERENCE_PAGE = path.resolve(__dirname, '..', '..', '..', 'docs', 'configuration.md');

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function shown(value: string | number | boolean): string {
  return value === '' ? '(empty)' : `\`${String(value)}\``;
}

/** One markdown row per setting, in schema order. */
export function settingsTable(): string {
  const rows = listSettings(configSchema()).map(
    ({ path: key, setting }) =>
      `| \`${key}\` | \`--${setting.arg}\` | \`${setting.env}\` | ${shown(setting.default)} | ${cell(setting.doc)} |`,
  );
  return [
    '| setting (file key) | flag | environment | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** `page` with the text between the markers replaced by the current table. */
export function withCurrentTable(page: string): string {
  const start = page.indexOf(REFERENCE_START);
  const end = page.indexOf(REFERENCE_END);
  if (start < 0 || end < start) {
    throw new Error(`the settings markers are missing from ${path.basename(REFERENCE_PAGE)}`);
  }
  return `${page.slice(0, start + REFERENCE_START.length)}\n\n${settingsTable()}\n\n${page.slice(end)}`;
}

if (require.main === module) {
  const page = fs.readFileSync(REFERENCE_PAGE, 'utf8');
  const updated = withCurrentTable(page);
  if (updated !== page) fs.writeFileSync(REFERENCE_PAGE, updated);
  process.stdout.write(`${updated === page ? 'up to date' : 'rewritten'}: docs/configuration.md\n`);
}
