/** MiniFTP's version, from package.json (as `nodes` shows it for each node). */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

export function miniftpVersion(): string {
  if (cached !== undefined) return cached;
  cached = 'unknown';
  try {
    // From dist/src/main/ to the package's root.
    const file = path.resolve(__dirname, '..', '..', '..', 'package.json');
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const version = (parsed as { version?: unknown }).version;
    if (typeof version === 'string') cached = version;
  } catch {
    // A package without its package.json: the version stays unknown.
  }
  return cached;
}
