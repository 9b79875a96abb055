/** The client's pure parts: command parsing and hints, arguments, the line editor, formats, theme. */
import { expect } from 'chai';
import { keyLabel, parseCliArgs, parseDestination, UsageError } from '../../src/client/main/cli';
import { parallelOf } from '../../src/client/cli-args';
import {
  COMMANDS,
  CommandError,
  UnknownCommandError,
  commandList,
  commandNames,
  parseLine,
  suggest,
} from '../../src/client/commands';
import { formatBytes, formatEta, formatRate, formatSizeShort } from '../../src/client/format';
import { LineEditor } from '../../src/client/ui/line-editor';
import { makeTheme } from '../../src/client/ui/theme';

describe('client commands', () => {
  it('splits a line with shell quoting and separates flags', () => {
    const p = parseLine(`put -f 'my file.bin' "dest dir"`);
    expect(p?.spec.name).to.equal('put');
    expect(p?.parsed.args).to.deep.equal(['my file.bin', 'dest dir']);
    expect([...(p?.parsed.flags ?? [])]).to.deep.equal(['-f']);
    expect(parseLine('get -- -odd-name')?.parsed.args).to.deep.equal(['-odd-name']);
  });

  it('ignores blank lines and comments, and knows aliases', () => {
    expect(parseLine('   ')).to.equal(null);
    expect(parseLine('# a comment')).to.equal(null);
    expect(parseLine('quit')?.spec.name).to.equal('bye');
    expect(parseLine('exit')?.spec.name).to.equal('bye');
  });

  it('rejects wrong argument counts, unknown options and bad quoting with the usage', () => {
    expect(() => parseLine('put')).to.throw(CommandError, 'usage: put [-f] FILE [TARGET]');
    expect(() => parseLine('rename a')).to.throw(CommandError, 'usage: rename OLD NEW');
    expect(() => parseLine('mkdir -x d')).to.throw(CommandError, 'unknown option -x');
    expect(() => parseLine("put 'open")).to.throw(CommandError, 'unterminated single quote');
  });

  it('suggests the nearest command and lists them all for a wrong one', () => {
    expect(suggest('pur')).to.equal('put');
    expect(suggest('mkdri')).to.equal('mkdir');
    expect(suggest('lsl')).to.equal('ls');
    expect(suggest('xyzzy')).to.equal(undefined);
    let err: unknown;
    try {
      parseLine('pur a.txt');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UnknownCommandError);
    const lines = (err as Error).message.split('\n');
    expect(lines[0]).to.equal("unknown command 'pur' — did you mean 'put'?");
    expect((err as UnknownCommandError).hint).to.equal(lines[0]);
    expect((err as Error).message).to.include(commandList());
  });

  it("names every command on one short line, for the screen's hint", () => {
    const line = commandNames();
    expect(line.length).to.be.at.most(78);
    const names = line.split(' ').slice(1);
    // As many as fit, in table order; help (which lists them all) and bye always.
    const shown = names.filter((n) => n !== '...' && n !== 'help' && n !== 'bye');
    expect(shown).to.deep.equal(COMMANDS.map((c) => c.name).slice(0, shown.length));
    expect(names).to.include.members(['put', 'get', 'mirror', 'ls', 'cd', 'help', 'bye']);
  });

  it('lists every command on one line of at most 80 columns', () => {
    const lines = commandList().split('\n');
    for (const name of ['put', 'get', 'mkdir', 'rm', 'ls', 'cd', 'pwd', 'help', 'bye']) {
      expect(lines.some((l) => l.startsWith(`${name} `) || l === name)).to.equal(true, name);
    }
    for (const name of ['lcd', 'lls', 'lpwd', 'rename']) {
      expect(lines.some((l) => l.startsWith(name))).to.equal(true, name);
    }
    for (const l of lines) expect(l.length).to.be.at.most(80);
  });
});

describe('client arguments', () => {
  it('reads [user@]host[:port], with defaults for each part', () => {
    expect(parseDestination('bob@example.org:2222')).to.deep.equal({
      user: 'bob',
      host: 'example.org',
      port: 2222,
    });
    expect(parseDestination('[::1]:9')).to.deep.equal({ user: undefined, host: '::1', port: 9 });
    expect(parseDestination('::1')).to.deep.equal({
      user: undefined,
      host: '::1',
      port: undefined,
    });
    const a = parseCliArgs([], { USER: 'carol' });
    expect([a.user, a.host, a.port]).to.deep.equal(['carol', '127.0.0.1', 8808]);
    const b = parseCliArgs(['-p', '2200', '-i', 'key', '-b', '-', 'dave@h'], { USER: 'x' });
    expect([b.user, b.host, b.port, b.identity, b.batch]).to.deep.equal([
      'dave',
      'h',
      2200,
      'key',
      '-',
    ]);
  });

  it('names host key types as OpenSSH does', () => {
    expect(keyLabel('ssh-ed25519')).to.equal('ED25519');
    expect(keyLabel('rsa-sha2-512')).to.equal('RSA');
    expect(keyLabel('ecdsa-sha2-nistp256')).to.equal('ECDSA');
    expect(keyLabel('something-new')).to.equal('something-new');
  });

  it('refuses bad ports, unknown options and two ports that differ', () => {
    expect(() => parseCliArgs(['h:99999'], {})).to.throw(UsageError, 'bad port');
    expect(() => parseCliArgs(['--nope'], {})).to.throw(UsageError, 'unknown option');
    expect(() => parseCliArgs(['-p', '1', 'h:2'], {})).to.throw(UsageError, 'two different ports');
  });

  it('takes --parallel N from 1 to 16, over MINIFTP_PARALLEL, which wins over the default 1', () => {
    expect(parseCliArgs(['--parallel', '3', 'h'], {}).parallel).to.equal(3);
    expect(
      parallelOf(parseCliArgs(['--parallel', '3', 'h'], {}), { MINIFTP_PARALLEL: '5' }),
    ).to.equal(3);
    expect(parallelOf(parseCliArgs(['h'], {}), { MINIFTP_PARALLEL: '5' })).to.equal(5);
    expect(parallelOf(parseCliArgs(['h'], {}), { MINIFTP_PARALLEL: 'many' })).to.equal(1);
    expect(parallelOf(parseCliArgs(['h'], {}), {})).to.equal(1);
    for (const bad of ['0', '17', '2.5', 'two', '-1']) {
      expect(() => parseCliArgs(['--parallel', bad, 'h'], {})).to.throw(
        UsageError,
        `bad --parallel value ${bad}: a number from 1 to 16`,
      );
    }
    expect(() => parseCliArgs(['h', '--parallel'], {})).to.throw(
      UsageError,
      '--parallel needs a value',
    );
  });
});

describe('client line editor', () => {
  const key = (name: string, ctrl = false): { name: string; ctrl: boolean } => ({ name, ctrl });

  it('edits in the middle and recalls history', () => {
    const e = new LineEditor();
    for (const ch of 'pt x') e.key(ch, {});
    e.key(undefined, key('left'));
    e.key(undefined, key('left'));
    e.key(undefined, key('left'));
    e.key('u', {});
    expect(e.text).to.equal('put x');
    expect(e.key(undefined, key('enter'))).to.equal('submit');
    e.remember(e.text);
    e.clear();
    e.key('l', {});
    e.key(undefined, key('up'));
    expect(e.text).to.equal('put x');
    e.key(undefined, key('down'));
    expect(e.text).to.equal('l');
    e.key(undefined, key('w', true));
    expect(e.text).to.equal('');
    expect(e.key(undefined, key('escape'))).to.equal('cancel');
  });
});

describe('client formats and theme', () => {
  it('formats sizes, rates and times', () => {
    expect(formatBytes(512)).to.equal('512 B');
    expect(formatBytes(9 * 1024 * 1024)).to.equal('9.00 MiB');
    expect(formatSizeShort(1536)).to.equal('1.5K');
    expect(formatSizeShort(24 * 1024 * 1024)).to.equal('24M');
    expect(formatRate(80 * 1024 * 1024)).to.equal('80.0 MiB/s');
    expect(formatEta(null)).to.equal('--:--');
    expect(formatEta(3723)).to.equal('1:02:03');
  });

  it('drops colours on a plain terminal or with NO_COLOR', () => {
    expect(makeTheme(256, {}).color).to.equal(true);
    expect(makeTheme(2, {}).color).to.equal(false);
    expect(makeTheme(256, { NO_COLOR: '1' }).barFull).to.equal('#');
  });
});
