/** What of a --store-url may be shown: never its password. */

/** The URL with its password replaced by "***" (and any password= parameter too). */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return '(a URL that cannot be read)';
  }
  if (url.password !== '') url.password = '***';
  for (const key of [...url.searchParams.keys()]) {
    if (key.toLowerCase() === 'password') url.searchParams.set(key, '***');
  }
  return url.toString();
}

/** "host:port" of a postgres:// URL (port 5432 when none is given). */
export function hostPort(text: string): string {
  try {
    const url = new URL(text);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}`;
  } catch {
    return 'an unreadable address';
  }
}
