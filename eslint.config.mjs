import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * Layers of src/, enforced with `no-restricted-imports` (static imports and exports, type-only
 * ones included) and `no-restricted-syntax` (dynamic `import()` and `import('…')` types).
 *
 *   main/                            the composition root: may import everything
 *   ssh/                             -> sftp, admin and everything below
 *   sftp/, admin/                    -> access, uploads, vfs, quota, auth, ops and everything below
 *   access/, uploads/ -> vfs/ -> quota/, auth/   (access and uploads may import vfs and quota,
 *                                     not each other; vfs may import quota; quota and auth
 *                                     import no other folder of their layer)
 *   ops/                             metrics, hooks, login history, address lists, bandwidth:
 *                                     beside them, imports only the bottom layer
 *   store/ -> log/ -> config/        the bottom layer
 *   util/ -> errors.ts               for everyone; they import nothing above them
 *   client/                          only ../sftp/codec, ../sftp/constants and ../util
 *
 * MAY_IMPORT lists, per folder of src/, the folders (and errors.ts) its files may import; any
 * other path that leaves the folder is reported, so a new folder of src/ is out of bounds until
 * it is given a line here. Imports inside a folder (./x, or ../x from a subfolder) are free.
 *
 * To check that the zones work: add `import '../ssh/server';` to a file in src/vfs/ and run
 * `npx eslint src/vfs` (it must report no-restricted-imports), or run the unit test
 * test/unit/layers.test.ts, which lints such probes through ESLint's Node API.
 * Import circles between files and between folders are checked by test/unit/import-cycles.test.ts.
 */
const BOTTOM = ['util', 'errors.ts'];
const MAY_IMPORT = {
  ssh: [
    'sftp',
    'admin',
    'access',
    'uploads',
    'vfs',
    'quota',
    'auth',
    'ops',
    'store',
    'log',
    'config',
    ...BOTTOM,
  ],
  sftp: ['access', 'uploads', 'vfs', 'quota', 'auth', 'ops', 'store', 'log', 'config', ...BOTTOM],
  admin: ['access', 'uploads', 'vfs', 'quota', 'auth', 'ops', 'store', 'log', 'config', ...BOTTOM],
  access: ['vfs', 'quota', 'store', 'log', 'config', ...BOTTOM],
  uploads: ['vfs', 'quota', 'store', 'log', 'config', ...BOTTOM],
  vfs: ['quota', 'store', 'log', 'config', ...BOTTOM],
  quota: ['store', 'log', 'config', ...BOTTOM],
  auth: ['store', 'log', 'config', ...BOTTOM],
  ops: ['store', 'log', 'config', ...BOTTOM],
  store: ['log', 'config', ...BOTTOM],
  log: ['config', ...BOTTOM],
  config: [...BOTTOM],
  util: ['errors.ts'],
};
/** What the client may use of the server's side: the codec, its constants, util/. */
const CLIENT_MAY_IMPORT = ['sftp/codec.ts', 'sftp/constants.ts', 'util'];

/** Depths of subfolders handled below a folder of src/ (src/client/ui/x.ts is depth 2). */
const MAX_DEPTH = 4;

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Regex source for one allowed target, written relative to src/: a folder, or one file. */
function target(name) {
  if (name.endsWith('.ts')) return `${escape(name.slice(0, -3))}(?:\\.js)?$`;
  return `${escape(name)}(?:/|$)`;
}

/**
 * The regex of specifiers that a file `depth` folders below src/ may not import: every path
 * that climbs to src/ (or above) and does not go on into an allowed target.
 */
function forbidden(depth, allowed) {
  const up = '\\.\\./'.repeat(depth);
  const ok = allowed.map(target).join('|');
  return `^(?:\\./)?${up}(?!${ok})`;
}

function zone(files, regex, message) {
  // esquery reads a regex up to the first '/', so a slash is written as \x2F there.
  const inSelector = regex.replaceAll('/', '\\x2F');
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex, message }] }],
      'no-restricted-syntax': [
        'error',
        { selector: `ImportExpression[source.value=/${inSelector}/]`, message },
        { selector: `TSImportType[argument.literal.value=/${inSelector}/]`, message },
      ],
    },
  };
}

function zones() {
  const blocks = [];
  const rules = Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
    folder,
    allowed: [folder, ...allowed],
    message: `src/${folder}/ may import only ${allowed.join(', ')} (see the layers in eslint.config.mjs).`,
  }));
  rules.push({
    folder: 'client',
    allowed: ['client', ...CLIENT_MAY_IMPORT],
    message: `src/client/ may import only ${CLIENT_MAY_IMPORT.join(', ')} of the server's side.`,
  });
  for (const { folder, allowed, message } of rules) {
    for (let depth = 1; depth <= MAX_DEPTH; depth++) {
      const glob = `src/${folder}/${'*/'.repeat(depth - 1)}*.ts`;
      blocks.push(zone([glob], forbidden(depth, allowed), message));
    }
  }
  blocks.push(
    zone(['src/errors.ts'], '^\\.', 'src/errors.ts is for everyone and imports nothing of src/.'),
  );
  return blocks;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'keys/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  ...zones(),
);
