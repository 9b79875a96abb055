/**
 * The layers of src/ as eslint.config.mjs enforces them, checked through
 * ESLint's Node API: probe files placed (virtually) in each folder import one
 * module of every other folder, and exactly the arrows against the layer order
 * must be reported. The order is written out here again, on purpose, so that a
 * slip in the config's table shows up as a difference.
 */
import { expect } from 'chai';
import { ESLint } from 'eslint';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');

const FOLDERS = [
  'main',
  'ssh',
  'sftp',
  'admin',
  'access',
  'uploads',
  'vfs',
  'quota',
  'auth',
  'ops',
  'store',
  'config',
  'log',
  'util',
  'client',
] as const;
type Folder = (typeof FOLDERS)[number];
type Target = Folder | 'errors.ts';

const BELOW_MIDDLE: Target[] = ['store', 'config', 'log', 'util', 'errors.ts'];
const MIDDLE: Target[] = ['access', 'uploads', 'vfs', 'quota', 'auth', 'ops', ...BELOW_MIDDLE];
const EVERYTHING: Target[] = [...FOLDERS, 'errors.ts'];

/** What each folder may import, from the layer order: ssh -> sftp / admin -> middle -> bottom. */
const MAY_IMPORT: Record<Exclude<Folder, 'client'>, Target[]> = {
  main: EVERYTHING,
  ssh: ['sftp', 'admin', ...MIDDLE],
  sftp: MIDDLE,
  admin: MIDDLE,
  access: ['vfs', 'quota', ...BELOW_MIDDLE],
  uploads: ['vfs', 'quota', ...BELOW_MIDDLE],
  vfs: ['quota', ...BELOW_MIDDLE],
  quota: BELOW_MIDDLE,
  auth: BELOW_MIDDLE,
  ops: BELOW_MIDDLE,
  store: ['config', 'log', 'util', 'errors.ts'],
  log: ['config', 'util', 'errors.ts'],
  config: ['util', 'errors.ts'],
  util: ['errors.ts'],
};

let eslint: ESLint;

/** The lines of `code` (1-based) that break a layer rule when the code sits at `filePath`. */
async function reportedLines(filePath: string, code: string): Promise<number[]> {
  const [result] = await eslint.lintText(code, { filePath });
  const layerRules = ['no-restricted-imports', 'no-restricted-syntax'];
  const messages = result?.messages ?? [];
  const others = messages.filter((m) => !layerRules.includes(m.ruleId ?? ''));
  expect(others, `other findings in the probe ${filePath}`).to.deep.equal([]);
  return messages.map((m) => m.line).sort((a, b) => a - b);
}

/** A probe that imports `specifiers` one a line, and uses each so nothing is unused. */
function probe(specifiers: string[]): string {
  const lines = specifiers.map((s, i) => `import { probe as p${i} } from '${s}';`);
  lines.push(`export const all = [${specifiers.map((_, i) => `p${i}`).join(', ')}];`);
  return lines.join('\n') + '\n';
}

function specifierOf(target: Target, up: string): string {
  return target === 'errors.ts' ? `${up}errors` : `${up}${target}/probe`;
}

function linesOf(targets: Target[], wanted: (t: Target) => boolean): number[] {
  return targets.flatMap((t, i) => (wanted(t) ? [i + 1] : []));
}

describe('layers (eslint.config.mjs)', function () {
  this.timeout(60_000);

  before(async function () {
    eslint = new ESLint({ cwd: ROOT });
  });

  it('reports a wrong import and accepts a right one', async function () {
    const wrong = "import { startServer } from '../ssh/server';\nexport const s = startServer;\n";
    const [result] = await eslint.lintText(wrong, { filePath: 'src/vfs/probe.ts' });
    expect(result?.messages.map((m) => m.ruleId)).to.deep.equal(['no-restricted-imports']);
    expect(result?.messages[0]?.message).to.contain('src/vfs/ may import only quota');

    const right =
      "import { QuotaExceeded } from '../quota/quota-ledger';\nexport const q = QuotaExceeded;\n";
    expect(await reportedLines('src/vfs/probe.ts', right)).to.deep.equal([]);
  });

  it('holds every folder of src/ to the layer order', async function () {
    for (const folder of FOLDERS) {
      if (folder === 'client') continue;
      const targets = EVERYTHING.filter((t) => t !== folder);
      const code = probe(targets.map((t) => specifierOf(t, '../')));
      const allowed = MAY_IMPORT[folder];
      const expected = linesOf(targets, (t) => !allowed.includes(t));
      expect(await reportedLines(`src/${folder}/probe.ts`, code), folder).to.deep.equal(expected);
    }
  });

  it('holds subfolders to the rule of their folder', async function () {
    const targets: Target[] = ['ssh', 'quota', 'errors.ts'];
    const code = probe([...targets.map((t) => specifierOf(t, '../../')), '../sibling']);
    expect(await reportedLines('src/vfs/deeper/probe.ts', code)).to.deep.equal([1]);
  });

  it('counts type-only imports, re-exports, side-effect and dynamic imports', async function () {
    const code = [
      "import type { SftpSession } from '../sftp/session';",
      "export { probe } from '../ssh/server';",
      "import '../admin/console';",
      "export type T = typeof import('../sftp/session.js');",
      "export const load = (): Promise<unknown> => import('../uploads/probe');",
      'export type S = SftpSession;',
    ].join('\n');
    expect(await reportedLines('src/vfs/probe.ts', code)).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('keeps the client to the codec, its constants and util/', async function () {
    const top = [
      '../sftp/codec',
      '../sftp/constants.js',
      '../util/clip',
      './format',
      '../sftp/status',
      '../sftp/session',
      '../errors',
      '../vfs/user-fs',
      '../../package.json',
    ];
    expect(await reportedLines('src/client/probe.ts', probe(top))).to.deep.equal([5, 6, 7, 8, 9]);
    // From src/client/ui/, ../errors is the client's own errors.ts.
    const ui = [
      '../errors',
      '../session',
      '../../sftp/constants',
      '../../errors',
      '../../ssh/wire',
    ];
    expect(await reportedLines('src/client/ui/probe.ts', probe(ui))).to.deep.equal([4, 5]);
  });

  it('keeps errors.ts free of imports from src/', async function () {
    const code = probe(['./util/clip', './config/size']);
    expect(await reportedLines('src/errors.ts', code)).to.deep.equal([1, 2]);
  });
});
