/**
 * How much of a user's remaining quota one process asks the store for at a
 * time (see shared-usage.ts). A grant starts small, doubles while uploads use
 * it up within a second of the last top-up (a fast upload then asks the store
 * seldom), falls back once they stop, and never takes more than a share of
 * what is free, so that when little remains, the other processes can still
 * get theirs.
 */
export interface GrantSizing {
  /** The first chunk, and the least a busy process asks for. */
  readonly minBytes: number;
  readonly maxBytes: number;
  /** Below this, a process may take all that is free. */
  readonly minShareBytes: number;
  readonly minFiles: number;
  readonly maxFiles: number;
}

export const DEFAULT_SIZING: GrantSizing = {
  minBytes: 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
  minShareBytes: 64 * 1024,
  minFiles: 16,
  maxFiles: 1024,
};

/**
 * The chunk to ask for now, `sinceLast` ms after the previous top-up: twice `chunk` when the grant
 * was used up within a second (writes waiting for it included), back to `min` after 5 s without
 * a top-up, else `chunk`.
 */
export function nextChunk(chunk: number, sinceLast: number, min: number, max: number): number {
  if (sinceLast < 1000) return Math.min(chunk * 2, max);
  if (sinceLast > 5000) return min;
  return chunk;
}

/**
 * What to ask for: `chunk`, but no more than a quarter of what the store last
 * reported `free` (at least `floor`, when that much is free). Unknown free
 * (0 before the first settle) asks for the chunk; the store caps it anyway.
 */
export function share(chunk: number, free: number, floor: number): number {
  if (free <= 0) return chunk;
  return Math.min(chunk, Math.max(floor, Math.floor(free / 4)));
}
