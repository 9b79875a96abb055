/**
 * A write observer that also gives back the file's writer lease when its handle is done, with
 * the file's size then.
 */
import type { WriteObserver } from '../vfs/vfile';

export function leasedObserver(inner: WriteObserver, letGo: (size: number) => void): WriteObserver {
  let done = false;
  const end = (size: number): void => {
    if (done) return;
    done = true;
    letGo(size);
  };
  return {
    beforeWrite: (offset, data) => inner.beforeWrite(offset, data),
    written: (offset, length) => inner.written(offset, length),
    writeFailed: (offset) => inner.writeFailed(offset),
    resized: (size) => inner.resized(size),
    handOff: (size, mtimeMs) => {
      const taken = inner.handOff?.(size, mtimeMs) ?? false;
      if (taken) end(size);
      return taken;
    },
    settle: () => inner.settle(),
    closed: (size, mtimeMs) => {
      inner.closed(size, mtimeMs);
      end(size);
    },
  };
}
