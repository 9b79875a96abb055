/** A write observer that also gives back the file's writer lease when its handle is done. */
import type { WriteObserver } from '../vfs/vfile';

export function leasedObserver(inner: WriteObserver, letGo: () => void): WriteObserver {
  let done = false;
  const end = (): void => {
    if (done) return;
    done = true;
    letGo();
  };
  return {
    beforeWrite: (offset, data) => inner.beforeWrite(offset, data),
    written: (offset, length) => inner.written(offset, length),
    writeFailed: (offset) => inner.writeFailed(offset),
    resized: (size) => inner.resized(size),
    handOff: (size, mtimeMs) => {
      const taken = inner.handOff?.(size, mtimeMs) ?? false;
      if (taken) end();
      return taken;
    },
    settle: () => inner.settle(),
    closed: (size, mtimeMs) => {
      inner.closed(size, mtimeMs);
      end();
    },
  };
}
