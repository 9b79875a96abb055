import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The README and every page of docs/, as paths from the repository's root. */
function pages(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f));
  return ['README.md', ...docs];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchorsIn(file: string): Set<string> {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/^#{1,6} (.+)$/gm)) found.add(anchorOf(m[1] as string));
  return found;
}

describe('README and docs/', function () {
  it('keep the README under 10 KB', function () {
    expect(readFileSync(path.join(ROOT, 'README.md')).length).to.be.at.most(10 * 1024);
  });

  it('link only to files in the repository, and to headings that exist', function () {
    const broken: string[] = [];
    for (const page of pages()) {
      const text = readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] as string;
        if (/^[a-z]+:/i.test(link)) continue;
        const [file, anchor] = link.split('#') as [string, string | undefined];
        const target = file === '' ? page : path.join(path.dirname(page), file);
        if (!existsSync(path.join(ROOT, target))) {
          broken.push(`${page}: ${link} (no such file)`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchorsIn(target).has(anchor)) {
          broken.push(`${page}: ${link} (no such heading)`);
        }
      }
    }
    expect(broken).to.deep.equal([]);
  });
});
