/** Client-supplied strings as they may go into the log. */

/** Most characters of a client-supplied string (user name, software version) that are logged. */
export const LOGGED_STRING_MAX = 64;

/**
 * A client-supplied string as it may go into the log: cut to `max` characters
 * with a marker saying how much was left out, so a client cannot make the log
 * grow by sending long names.
 */
export function clipForLog(value: string, max = LOGGED_STRING_MAX): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max)}…[cut, ${value.length - max} more characters]`;
}
