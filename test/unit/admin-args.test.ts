import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { parseArgs, tokenize } from '../../src/admin/args';

function invalidMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(MiniftpError);
    expect((err as MiniftpError).kind).to.equal('invalid');
    return (err as MiniftpError).message;
  }
  throw new Error('expected an invalid-argument error');
}

describe('admin console tokenizer', () => {
  it('splits on runs of blanks and ignores leading and trailing ones', () => {
    expect(tokenize('  user   add\tbob  ')).to.deep.equal(['user', 'add', 'bob']);
    expect(tokenize('')).to.deep.equal([]);
    expect(tokenize('   ')).to.deep.equal([]);
  });

  it('keeps single-quoted text literally, backslashes and double quotes included', () => {
    expect(tokenize(`key add bob 'ssh-ed25519 AAAA me@laptop'`)).to.deep.equal([
      'key',
      'add',
      'bob',
      'ssh-ed25519 AAAA me@laptop',
    ]);
    expect(tokenize(`'a\\b "c"'`)).to.deep.equal(['a\\b "c"']);
  });

  it('honours backslash escapes inside double quotes only before " \\ $ `', () => {
    expect(tokenize(`"say \\"hi\\" \\\\ \\$x \\n"`)).to.deep.equal(['say "hi" \\ $x \\n']);
  });

  it('joins quoted and unquoted pieces of one word', () => {
    expect(tokenize(`a'b c'd"e f"`)).to.deep.equal(['ab cde f']);
  });

  it('keeps empty quoted words', () => {
    expect(tokenize(`passwd '' ""`)).to.deep.equal(['passwd', '', '']);
  });

  it('escapes the next character with a backslash outside quotes', () => {
    expect(tokenize('a\\ b \\"c\\\' \\\\')).to.deep.equal(['a b', `"c'`, '\\']);
  });

  it('joins lines ending in a backslash', () => {
    expect(tokenize('user add \\\nbob')).to.deep.equal(['user', 'add', 'bob']);
  });

  it('treats a line starting with # as a comment', () => {
    expect(tokenize('# a comment')).to.deep.equal([]);
    expect(tokenize('   #user del bob')).to.deep.equal([]);
    expect(tokenize('key del bob a#b')).to.deep.equal(['key', 'del', 'bob', 'a#b']);
    expect(tokenize(`'#' x`)).to.deep.equal(['#', 'x']);
  });

  it('never interprets shell syntax', () => {
    expect(tokenize('user add bob; rm -rf / && $(id) `id` | cat > x')).to.deep.equal([
      'user',
      'add',
      'bob;',
      'rm',
      '-rf',
      '/',
      '&&',
      '$(id)',
      '`id`',
      '|',
      'cat',
      '>',
      'x',
    ]);
  });

  it('refuses unterminated quotes and a trailing backslash, saying how to fix them', () => {
    expect(invalidMessage(() => tokenize(`user add 'bob`))).to.match(/unterminated single quote/);
    expect(invalidMessage(() => tokenize(`user add "bob`))).to.match(/unterminated double quote/);
    expect(invalidMessage(() => tokenize('user add bob\\'))).to.match(/trailing backslash/);
  });
});

describe('admin console option parsing', () => {
  const spec = { quota: 'value', yes: 'switch', json: 'switch' } as const;

  it('separates options from positional words wherever they stand', () => {
    const args = parseArgs(['bob', '--quota', '1G', 'extra', '--yes'], spec);
    expect(args.positionals).to.deep.equal(['bob', 'extra']);
    expect(args.value('quota')).to.equal('1G');
    expect(args.has('yes')).to.equal(true);
    expect(args.has('json')).to.equal(false);
  });

  it('accepts --name=value', () => {
    expect(parseArgs(['--quota=500M'], spec).value('quota')).to.equal('500M');
  });

  it('lets the last of a repeated option win', () => {
    expect(parseArgs(['--quota', '1G', '--quota', '2G'], spec).value('quota')).to.equal('2G');
  });

  it('stops reading options at --, and keeps a lone - as a word', () => {
    const args = parseArgs(['--', '--yes', '-'], spec);
    expect(args.positionals).to.deep.equal(['--yes', '-']);
    expect(args.has('yes')).to.equal(false);
    expect(parseArgs(['-'], spec).positionals).to.deep.equal(['-']);
  });

  it('refuses unknown options, missing values and values given to switches', () => {
    expect(invalidMessage(() => parseArgs(['--force'], spec))).to.equal('unknown option --force');
    expect(invalidMessage(() => parseArgs(['-y'], spec))).to.match(/unknown option -y/);
    expect(invalidMessage(() => parseArgs(['--quota'], spec))).to.equal(
      'option --quota needs a value',
    );
    expect(invalidMessage(() => parseArgs(['--yes=1'], spec))).to.equal(
      'option --yes takes no value',
    );
  });
});
