import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config/load';
import { parseDuration } from '../../src/util/duration';
import { haproxyConfig } from '../helpers/haproxy';

const PAGE = path.resolve(__dirname, '..', '..', '..', 'docs', 'deploy.md');

/** The fenced blocks of `lang` in the page. */
function blocks(page: string, lang: string): string[] {
  const found: string[] = [];
  const fence = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm');
  for (let m = fence.exec(page); m; m = fence.exec(page)) found.push(m[1] ?? '');
  return found;
}

describe('docs/deploy.md', () => {
  const page = readFileSync(PAGE, 'utf8');

  it('shows the HAProxy configuration the tests run, for two nodes', () => {
    const shown = blocks(page, 'haproxy');
    expect(shown).to.have.length(1);
    expect(shown[0]).to.equal(
      haproxyConfig({
        bind: '0.0.0.0:22',
        socket: '/run/haproxy/admin.sock',
        inter: '2s',
        fall: 2,
        rise: 2,
        servers: [
          { name: 'node1', host: '10.0.0.11', port: 8808 },
          { name: 'node2', host: '10.0.0.12', port: 8808 },
        ],
      }),
    );
  });

  it('its miniftp-server command lines are valid settings', () => {
    const lines = blocks(page, 'sh')
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('miniftp-server '));
    expect(lines).to.not.deep.equal([]);
    for (const line of lines) {
      const config = loadConfig({
        argv: line.split(/\s+/).slice(1),
        env: {},
        cwd: '/tmp',
        defaultsFile: null,
      });
      expect(config.balancer.proxyProtocol, line).to.equal(true);
    }
  });

  it("its console drain's --timeout reads as a duration", () => {
    const drains = blocks(page, 'sh')
      .join('')
      .split('\n')
      .map((l) => /\bdrain --timeout (\S+)/.exec(l)?.[1])
      .filter((t): t is string => t !== undefined);
    expect(drains).to.not.deep.equal([]);
    for (const t of drains) expect(parseDuration(t), t).to.be.a('number');
  });
});

describe('durations', () => {
  it('reads seconds, minutes and hours; a bare number is seconds', () => {
    expect(parseDuration('90')).to.equal(90);
    expect(parseDuration('90s')).to.equal(90);
    expect(parseDuration('10m')).to.equal(600);
    expect(parseDuration(' 1H ')).to.equal(3600);
  });

  it('refuses anything else', () => {
    for (const bad of ['', '1.5h', '-1s', '10 minutes', '1d', 'soon']) {
      expect(parseDuration(bad), bad).to.equal(undefined);
    }
  });
});
