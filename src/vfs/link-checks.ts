/**
 * Symlinks inside a jail: what to store for a new one, what READLINK shows,
 * and whether a link, or a directory holding links, may be moved without a
 * link then leading out of the home.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError } from '../errors';
import type { Jail } from './jail';
import { MAX_DEPTH, MAX_MOVE_SCAN, checkNames, depthOf } from './virtual-path';

/**
 * What to store on disk for a symlink at `linkReal` (its directory already
 * resolved, see `resolve`) pointing at `target` as the client wrote it.
 * An absolute target names a virtual path. Targets that lead out of the
 * home are refused, judged from where the link really lands (its directory
 * may be reached through another symlink).
 *
 * A target that goes down from the link's directory is stored relative, so
 * it survives the home being moved. One that climbs (`..`, or an absolute
 * target elsewhere in the home) is stored as the absolute path it leads to:
 * stored relative, it would change meaning when the link or a directory
 * above it is renamed to a shallower place, and could then lead out of the
 * home. Links that only go down can never leave it, however they are
 * moved or combined.
 */
export async function symlinkTarget(jail: Jail, linkReal: string, target: string): Promise<string> {
  if (target.includes('\0')) throw MiniftpError.permission('path contains a NUL byte');
  checkNames(target.split('/'), 'symlink target');
  const dir = path.dirname(linkReal);
  const relative = target.startsWith('/')
    ? path.relative(dir, jail.lexical(target)) || '.'
    : target;
  const dest = await jail.follow(dir, relative);
  if (!jail.contains(dest)) throw MiniftpError.permission('symlink target is outside your home');
  return climbs(relative) ? dest : relative;
}

/**
 * Refuses moving or hard-linking the symlink at `fromReal` to `toReal`
 * when its target climbs (`..`) and would then lead out of the home.
 * MiniFTP never stores such targets (see symlinkTarget), but a link made on
 * disk may have one.
 */
export async function checkLinkMove(jail: Jail, fromReal: string, toReal: string): Promise<void> {
  const stored = await fsp.readlink(fromReal);
  if (!climbs(stored)) return;
  if (!jail.contains(await jail.follow(path.dirname(toReal), stored))) {
    throw MiniftpError.permission('moved there, the symlink would point outside your home');
  }
}

/**
 * Rewrites the symlink at `linkReal`, if its target climbs (`..`) and leads
 * inside the home, to the absolute path it leads to now, as symlinkTarget
 * stores new links: such a link, made by hand or before that rule, would
 * otherwise point elsewhere once a directory above it is renamed to a
 * shallower place, possibly out of the home. The swap is atomic (a new link
 * renamed over the old). True when rewritten.
 */
export async function settleLink(jail: Jail, linkReal: string): Promise<boolean> {
  // One of the user's changes to names: see `changing`.
  return jail.changing(async () => {
    const stored = await fsp.readlink(linkReal);
    if (!climbs(stored)) return false;
    const dest = await jail.follow(path.dirname(linkReal), stored);
    if (!jail.contains(dest)) return false;
    const temp = `${linkReal}.miniftp-${process.pid}-${Date.now()}`;
    await fsp.symlink(dest, temp);
    try {
      await fsp.rename(temp, linkReal);
    } catch (err) {
      await fsp.unlink(temp).catch(() => undefined);
      throw err;
    }
    return true;
  });
}

/**
 * Refuses moving the directory at `fromReal` to `toReal` when a symlink
 * anywhere under it has a target that climbs (`..`) and would lead out of
 * the home from its new place (`checkLinkMove` for each), naming the first
 * such link; or when the tree would end deeper than MAX_DEPTH. The walk is
 * asynchronous and stops after MAX_MOVE_SCAN entries, refusing the move:
 * such a tree is moved in parts.
 */
export async function checkDirMove(jail: Jail, fromReal: string, toReal: string): Promise<void> {
  jail.checkDepth(toReal);
  const base = depthOf(jail.toVirtual(toReal));
  let seen = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    const entries = await fsp.readdir(path.join(fromReal, rel), { withFileTypes: true });
    for (const entry of entries) {
      if (++seen > MAX_MOVE_SCAN) {
        throw MiniftpError.limit(
          `the directory holds more than ${MAX_MOVE_SCAN} entries to check; move its contents in parts`,
        );
      }
      if (base + depth > MAX_DEPTH) {
        throw MiniftpError.invalid(
          `moved there, the directory would reach deeper than ${MAX_DEPTH} levels`,
        );
      }
      const name = path.join(rel, entry.name);
      if (entry.isDirectory()) await walk(name, depth + 1);
      else if (entry.isSymbolicLink()) {
        const stored = await fsp.readlink(path.join(fromReal, name));
        if (!climbs(stored)) continue;
        const dest = await jail.follow(path.dirname(path.join(toReal, name)), stored);
        if (!jail.contains(dest)) {
          const shown = jail.toVirtual(path.join(fromReal, name));
          throw MiniftpError.permission(
            `moved there, the symlink ${shown} would point outside your home`,
          );
        }
      }
    }
  };
  await walk('', 1);
}

/**
 * What READLINK shows for a link at `linkReal` whose stored target is
 * `stored`: relative targets as stored, absolute ones as virtual paths.
 * A link leading out of the home (planted on disk) is refused rather than
 * shown, so it reveals nothing about the layout around the home.
 */
export async function readlinkTarget(
  jail: Jail,
  linkReal: string,
  stored: string,
): Promise<string> {
  // Going down from the link, it names nothing outside (and a loop need not be followed).
  if (!path.isAbsolute(stored) && !climbs(stored)) return stored;
  const dest = await jail.follow(path.dirname(linkReal), stored);
  if (!jail.contains(dest)) throw MiniftpError.permission('symlink points outside your home');
  return path.isAbsolute(stored) ? jail.toVirtual(path.resolve(stored)) : stored;
}

/** Whether a symlink target is relative and goes up a directory anywhere. */
function climbs(target: string): boolean {
  return !path.isAbsolute(target) && target.split('/').includes('..');
}
