import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import {
  GC_FLAG,
  MALLOC_THRESHOLD,
  START_COMMAND,
  missingRuntimeSettings,
} from '../../src/main/runtime';

const REPO = path.resolve(__dirname, '..', '..', '..');

describe('runtime settings', function () {
  it('npm start runs the server with every setting', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).to.equal(START_COMMAND);
  });

  it('the server script applies the same settings through its shebang', function () {
    const first = fs
      .readFileSync(path.join(REPO, 'bin', 'miniftp-server.js'), 'utf8')
      .split('\n')[0];
    expect(first).to.equal(
      `#!/usr/bin/env -S ${MALLOC_THRESHOLD.name}=${MALLOC_THRESHOLD.value} node ${GC_FLAG}`,
    );
  });

  it('names what a process was started without', function () {
    const names = (env: NodeJS.ProcessEnv, argv: string[], platform: NodeJS.Platform): string[] =>
      missingRuntimeSettings(env, argv, platform).map((s) => s.setting);
    expect(names({}, [], 'linux')).to.deep.equal([
      `${MALLOC_THRESHOLD.name}=${MALLOC_THRESHOLD.value}`,
      `node ${GC_FLAG}`,
    ]);
    expect(names({ [MALLOC_THRESHOLD.name]: '131072' }, [GC_FLAG], 'linux')).to.deep.equal([]);
    // glibc's variable means nothing elsewhere.
    expect(names({}, [], 'darwin')).to.deep.equal([`node ${GC_FLAG}`]);
  });
});
