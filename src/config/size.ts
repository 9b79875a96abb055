/**
 * Byte sizes as people write them in config files and admin commands ("500M", "1.5GiB").
 *
 * Every unit is binary (K = KB = KiB = 1024): a quota of "1G" must hold a 1 GiB file, and users who
 * type "MB" mean what `ls -lh` and `df -h` show, which are 1024-based too.
 */

const UNIT_EXPONENTS: Readonly<Record<string, number>> = { k: 1, m: 2, g: 3, t: 4, p: 5 };
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|b)?$/;
const HUMAN_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Why a size was refused: `problem` completes "size …" or "quota …". */
export class SizeError extends Error {
  constructor(
    readonly problem: string,
    readonly input: string | number,
  ) {
    super(`size ${problem}, got ${typeof input === 'number' ? String(input) : `'${input}'`}`);
  }
}

export const SIZE_FORMAT = 'must look like 500M or 1G';

/** Bytes from "1048576", 1048576, "500M", "500MB", "1.5GiB", "10K", "2T"; "unlimited" and 0 give 0. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (text < 0) throw new SizeError('cannot be negative', text);
    if (Number.isSafeInteger(text)) return text;
    throw new SizeError(
      Number.isInteger(text) ? 'is too large (the most is 8 PiB less a byte)' : SIZE_FORMAT,
      text,
    );
  }
  const normalised = text.trim().toLowerCase();
  if (normalised === 'unlimited') return 0;
  if (/^-\s*\d/.test(normalised)) throw new SizeError('cannot be negative', text);
  const match = SIZE_PATTERN.exec(normalised);
  if (!match?.[1]) throw new SizeError(SIZE_FORMAT, text);
  const exponent = match[2] ? (UNIT_EXPONENTS[match[2]] ?? 0) : 0;
  const amount = Number(match[1]);
  // A fraction of a byte cannot be stored; "1.5K" is fine, "1.5" bytes is a typo.
  if (exponent === 0 && !Number.isInteger(amount)) throw new SizeError(SIZE_FORMAT, text);
  const bytes = Math.round(amount * 1024 ** exponent);
  if (!Number.isSafeInteger(bytes))
    throw new SizeError('is too large (the most is 8 PiB less a byte)', text);
  // "0.0001K" is not "unlimited": only a zero written as such means no limit.
  if (bytes === 0 && amount !== 0) throw new SizeError('is less than one byte', text);
  return bytes;
}

/** "0 B", "512 B", "12.3 KiB", "500 MiB", "1.5 GiB": at most one decimal, never "1.0". */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} B`;
  if (bytes < 0) return `-${formatSize(-bytes)}`;
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < HUMAN_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  let rounded = unit === 0 ? Math.round(value) : Math.round(value * 10) / 10;
  // 1048575 bytes is 1023.99 KiB, which rounds to "1024 KiB"; say "1 MiB" instead.
  if (rounded >= 1024 && unit < HUMAN_UNITS.length - 1) {
    rounded = Math.round((rounded / 1024) * 10) / 10;
    unit += 1;
  }
  const digits = Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
  return `${digits} ${HUMAN_UNITS[unit] ?? 'B'}`;
}
