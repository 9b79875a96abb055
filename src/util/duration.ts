/**
 * Durations as people write them in settings and console commands: "90" or
 * "90s" (seconds), "5m", "1h". Whole numbers only, so a value reads one way.
 */
const UNIT_SECONDS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600 };

/** Seconds in `text`, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d{1,9})\s*([smh]?)\s*$/i.exec(text);
  if (!m?.[1]) return undefined;
  return Number(m[1]) * (UNIT_SECONDS[(m[2] ?? '').toLowerCase()] ?? 1);
}
