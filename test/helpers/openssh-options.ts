/**
 * Command-line options for OpenSSH's `ssh` and `sftp` against a local MiniFTP
 * or sshd: no config file, no known_hosts, and either a key or a password
 * supplied through SSH_ASKPASS. Shared by the tests and the bench.
 */
export interface Credentials {
  user: string;
  password?: string;
  /** Path of a private key file (see makeClientKey). */
  identity?: string;
}

export function commonOptions(port: number, creds: Credentials, flag: '-p' | '-P'): string[] {
  const opts = [
    flag,
    String(port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=20',
    '-F',
    '/dev/null',
  ];
  if (creds.identity) {
    opts.push(
      '-i',
      creds.identity,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'PreferredAuthentications=publickey',
    );
  } else {
    // BatchMode (which `sftp -b` turns on) forbids password prompts; the first
    // value of an option wins in OpenSSH, so this must come before -b.
    opts.push(
      '-o',
      'BatchMode=no',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'PreferredAuthentications=password,keyboard-interactive',
      '-o',
      'NumberOfPasswordPrompts=1',
    );
  }
  return opts;
}
