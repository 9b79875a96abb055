/**
 * No import circle in src/, between files or between its folders. Every
 * relative import counts: static, type-only, re-exports, `import()` and
 * require(), as TypeScript's own scanner finds them (comments and strings
 * are not imports).
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

type Graph = Map<string, Set<string>>;

/** Every .ts file below src/, relative to src/ with forward slashes. */
function sources(dir = SRC): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(full));
    else if (entry.name.endsWith('.ts'))
      out.push(path.relative(SRC, full).split(path.sep).join('/'));
  }
  return out.sort();
}

/** The file of src/ that a relative specifier names, or undefined when it leaves src/. */
function resolve(from: string, specifier: string): string | undefined {
  const base = path.resolve(SRC, path.dirname(from), specifier).replace(/\.js$/, '');
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    const rel = path.relative(SRC, candidate);
    if (!rel.startsWith('..') && existsSync(candidate)) return rel.split(path.sep).join('/');
  }
  return undefined;
}

/** The relative specifiers a source text imports, in any form. */
function relativeImports(text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles.map((f) => f.fileName).filter((name) => name.startsWith('.'));
}

function fileGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of sources()) {
    const text = readFileSync(path.join(SRC, file), 'utf8');
    const targets = new Set<string>();
    for (const specifier of relativeImports(text)) {
      const target = resolve(file, specifier);
      if (target !== undefined && target !== file) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Folder of src/ a file belongs to (src/errors.ts stands for itself). */
/** The folder a file is in ("client/ui" for client/ui/app.ts; the file itself at the top). */
function folderOf(file: string): string {
  const slash = file.lastIndexOf('/');
  return slash < 0 ? file : file.slice(0, slash);
}

function folderGraph(files: Graph): Graph {
  const graph: Graph = new Map();
  for (const [file, targets] of files) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const target of targets) if (folderOf(target) !== from) edges.add(folderOf(target));
  }
  return graph;
}

/** Every circle, one per strongly connected part, as a path `a -> b -> … -> a`. */
function circles(graph: Graph): string[] {
  // Tarjan's strongly connected components, then one circle through each.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const parts: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(to) ?? 0));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(to) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const part: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        part.push(member);
      } while (member !== node);
      if (part.length > 1) parts.push(part);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return parts.map((part) => circleThrough(graph, new Set(part)));
}

/** A shortest circle from the first (sorted) member of a strongly connected part back to it. */
function circleThrough(graph: Graph, part: Set<string>): string {
  const start = [...part].sort()[0] as string;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const to of [...(graph.get(node) ?? [])].sort()) {
      if (!part.has(to)) continue;
      if (to === start) {
        const trail = [node];
        while (trail[0] !== start) trail.unshift(previous.get(trail[0] as string) as string);
        return [...trail, start].join(' -> ');
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [...part].join(', ');
}

describe('import circles in src/', function () {
  const files = fileGraph();

  it('finds a circle and names its path', function () {
    const graph: Graph = new Map([
      ['a.ts', new Set(['b.ts'])],
      ['b.ts', new Set(['c.ts'])],
      ['c.ts', new Set(['a.ts', 'd.ts'])],
      ['d.ts', new Set<string>()],
    ]);
    expect(circles(graph)).to.deep.equal(['a.ts -> b.ts -> c.ts -> a.ts']);
    (graph.get('c.ts') as Set<string>).delete('a.ts');
    expect(circles(graph)).to.deep.equal([]);
  });

  it('reads every kind of relative import, and nothing else', function () {
    const text = [
      "import type { A } from './a';",
      'import {',
      '  B,',
      "} from '../b/b';",
      "export { C } from './c.js';",
      "export * from './d';",
      "import './e';",
      "const f = await import('./f');",
      "type G = typeof import('./g');",
      "const h = require('./h');",
      "import { promises } from 'node:fs';",
      "// not an import: from './comment'",
      'const text = "from \'./string\'";',
    ].join('\n');
    expect(relativeImports(text)).to.have.members([
      './a',
      '../b/b',
      './c.js',
      './d',
      './e',
      './f',
      './g',
      './h',
    ]);
  });

  it('builds the graph from src/', function () {
    expect(files.get('main/cli.ts')).to.include('main/start.ts');
    expect(folderGraph(files).get('main')).to.include('ssh');
  });

  it('has no circle between files', function () {
    const found = circles(files);
    expect(found, `import circles between files:\n  ${found.join('\n  ')}\n`).to.deep.equal([]);
  });

  it('has no circle between folders', function () {
    const found = circles(folderGraph(files));
    expect(found, `import circles between folders:\n  ${found.join('\n  ')}\n`).to.deep.equal([]);
  });
});
