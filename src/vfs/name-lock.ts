/**
 * One queue per home for the requests that change names in it (create,
 * remove, rename, link, and SETSTAT by path): they run one at a time across
 * all of the user's sessions, each with its jail checks. A path checked by
 * one of them cannot then be changed by another request of the same user (a
 * directory renamed away and a symlink renamed in its place) before the
 * system call it was checked for. Other users' homes have their own queues,
 * so no user waits for another.
 */

/** Per home (its real path) while its lock is held: who waits for it next, in order. */
const held = new Map<string, Array<() => void>>();

/**
 * Runs `op` holding the lock of `home`. A free lock is taken at once, so `op`
 * starts synchronously (the lookups of a short path stay as fast as without
 * the lock); otherwise after the requests before it.
 */
export async function withNameLock<T>(home: string, op: () => Promise<T>): Promise<T> {
  const waiting = held.get(home);
  if (waiting === undefined) held.set(home, []);
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await op();
  } finally {
    const next = held.get(home)?.shift();
    if (next) next();
    else held.delete(home);
  }
}

/** Homes whose lock is held now (for tests: none once everything has finished). */
export function heldNameLocks(): number {
  return held.size;
}
