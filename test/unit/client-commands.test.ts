/** The client's command table: parsing, hints and suggestions. */
import { expect } from 'chai';
import {
  COMMANDS,
  CommandError,
  UnknownCommandError,
  commandList,
  commandNames,
  parseLine,
  suggest,
} from '../../src/client/commands';

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
