/** Human-readable sizes, rates, durations and dates for the client's screens and progress lines. */

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/**
 * 512 B, 9.00 MiB, 1.05 GiB, 123 MiB: binary units, as file managers show
 * sizes, with three significant digits so that 1075 MiB is not "1.0 GiB".
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let v = n / 1024;
  let unit = 0;
  while (v >= 1023.5 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${threeDigits(v)} ${UNITS[unit] as string}`;
}

function threeDigits(v: number): string {
  if (v < 9.995) return v.toFixed(2);
  if (v < 99.95) return v.toFixed(1);
  return String(Math.round(v));
}

/** A size in at most 6 characters, for list columns: 999, 1.5K, 12M, 3.4G. */
export function formatSizeShort(n: number): string {
  if (n < 1000) return String(n);
  const units = ['K', 'M', 'G', 'T', 'P'];
  let v = n / 1024;
  let unit = 0;
  while (v >= 999.5 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  const digits = v < 9.95 ? v.toFixed(1) : String(Math.round(v));
  return `${digits}${units[unit] as string}`;
}

/** 80.0 MiB/s: the same binary units as the sizes beside it. */
export function formatRate(bytesPerSecond: number): string {
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let v = bytesPerSecond;
  let unit = 0;
  while (v >= 1023.5 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  const digits = unit === 0 ? String(Math.round(v)) : threeDigits(v);
  return `${digits} ${units[unit] as string}`;
}

/** 0:07, 12:34, 1:02:03; "--:--" while unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * As `ls -l` prints dates, always 12 characters: "May 01 12:34" within the
 * last six months, "May 01  2023" for older or future ones.
 */
export function formatDate(d: Date | undefined, now: Date = new Date()): string {
  if (!d || Number.isNaN(d.getTime())) return ''.padStart(12);
  const month = MONTHS[d.getMonth()] as string;
  const day = String(d.getDate()).padStart(2, '0');
  const age = now.getTime() - d.getTime();
  if (age >= 0 && age < 182 * 24 * 3600 * 1000) {
    const hh = String(d.getHours()).padStart(2, '0');
    const mm = String(d.getMinutes()).padStart(2, '0');
    return `${month} ${day} ${hh}:${mm}`;
  }
  return `${month} ${day}  ${d.getFullYear()}`;
}

/** Percent done, 0–100, whole numbers; an empty file is 100% done. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.floor((done / total) * 100));
}
