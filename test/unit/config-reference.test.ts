import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { REFERENCE_PAGE, settingsTable, withCurrentTable } from '../../src/config/reference';
import { configSchema, listSettings } from '../../src/config/schema';

describe('docs/configuration.md', function () {
  it('lists every setting exactly as the schema has it (run npm run docs:config when this fails)', function () {
    const page = readFileSync(REFERENCE_PAGE, 'utf8');
    const stale = withCurrentTable(page) !== page;
    expect(stale, 'docs/configuration.md is stale: run npm run docs:config').to.equal(false);
  });

  it('has one row per setting, with its flag and environment variable', function () {
    const table = settingsTable();
    for (const { path, setting } of listSettings(configSchema())) {
      expect(table).to.include(`| \`${path}\` | \`--${setting.arg}\` | \`${setting.env}\` |`);
    }
  });

  it('refuses a page whose markers are gone', function () {
    expect(() => withCurrentTable('# Configuration\n')).to.throw(/markers are missing/);
  });
});
