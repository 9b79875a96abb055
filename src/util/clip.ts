/**
 * Client-supplied text shown back to the client or written to a log: at most
 * `max` characters, control characters (terminal escapes included) replaced by
 * U+FFFD, and a visible mark when it was cut, so that a 100 KB name costs a
 * line, not 100 KB, and a name cannot move another user's cursor.
 */
export const CLIP_DEFAULT = 64;

export function clip(text: string, max = CLIP_DEFAULT): string {
  const cut = text.length > max;
  const shown = (cut ? text.slice(0, max) : text).replace(/\p{Cc}/gu, '\ufffd');
  return cut ? `${shown}… (${text.length} characters)` : shown;
}
