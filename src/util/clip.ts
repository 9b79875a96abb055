/**
 * Client-supplied text (a user name, a client version, an extension name) as it
 * may go into a log line or back into a reply: at most `max` characters with a
 * marker saying how much was left out, control characters (terminal escapes
 * included) replaced by U+FFFD, so that a client can neither make the log grow
 * nor move the cursor of whoever reads it.
 */
export const CLIP_MAX = 64;

export function clip(text: string, max = CLIP_MAX): string {
  const cut = text.length > max;
  const shown = (cut ? text.slice(0, max) : text).replace(/\p{Cc}/gu, '\ufffd');
  return cut ? `${shown}…[cut, ${text.length - max} more characters]` : shown;
}
