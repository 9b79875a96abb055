/**
 * The value of `key`: from `known` when there, else from one load shared by
 * every caller that asks while it runs (`loading` holds it until it settles).
 */
export function loadOnce<K, V>(
  known: ReadonlyMap<K, V>,
  loading: Map<K, Promise<V>>,
  key: K,
  load: () => Promise<V>,
): Promise<V> {
  const found = known.get(key);
  if (found !== undefined) return Promise.resolve(found);
  let pending = loading.get(key);
  if (!pending) {
    const started = load();
    pending = started;
    loading.set(key, started);
    const forget = (): void => {
      if (loading.get(key) === started) loading.delete(key);
    };
    started.then(forget, forget);
  }
  return pending;
}
