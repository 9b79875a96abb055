/**
 * Client behaviour that depends on who is on the other end. The SSH layer
 * hands over the client's identification line ("SSH-2.0-ssh2js1.17.0").
 */

/**
 * SSH_FXP_SYMLINK's argument order. OpenSSH's sftp-server reads target path
 * first, then link path (the reverse of draft-02), and OpenSSH's sftp,
 * paramiko, libssh2 and Go's pkg/sftp always send that order. A few clients
 * send the OpenSSH order only to servers that identify as OpenSSH and the
 * draft-02 order (link path first) to everyone else, MiniFTP included:
 * node's ssh2 ("ssh2js"), libssh ("libssh_0.10" or "libssh-0.x") and WinSCP
 * (its "reverse symlink arguments" setting, automatic by default).
 */
export function sendsLinkPathFirst(clientIdent: string | undefined): boolean {
  if (clientIdent === undefined) return false;
  return /^SSH-2\.0-(ssh2js|libssh[_-]|WinSCP)/i.test(clientIdent);
}
