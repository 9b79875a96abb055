/**
 * ThreadPriority's bookkeeping, with a stand-in chrt that records its calls
 * (the real policy change is checked in background-md5.test.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { ThreadPriority } from '../../src/uploads/thread-priority';

describe('ThreadPriority', function () {
  let dir: string;
  let calls: string;
  let chrt: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-prio-'));
    calls = path.join(dir, 'calls');
    chrt = path.join(dir, 'chrt');
    fs.writeFileSync(chrt, `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const recorded = (): string[] =>
    fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [];

  it('ends a burst of changes in the last one asked for, one chrt at a time', async function () {
    const p = new ThreadPriority(4242, { chrt, mayLower: true });
    p.set('idle');
    p.set('normal');
    p.set('idle');
    await p.settled();
    const seen = recorded();
    expect(seen[0]).to.equal('--idle --pid 0 4242');
    expect(seen.at(-1)).to.equal('--idle --pid 0 4242');
    p.set('normal');
    await p.settled();
    expect(recorded().at(-1)).to.equal('--other --pid 0 4242');
  });

  it('never lowers a thread it could not raise again', async function () {
    const p = new ThreadPriority(4242, { chrt, mayLower: false });
    p.set('idle');
    await p.settled();
    expect(recorded()).to.deep.equal([]);
  });
});
