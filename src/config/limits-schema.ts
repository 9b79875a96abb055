/** The `limits` section of the schema: connections, logins, handles, memory, packets, bans. */
import type { SchemaOf } from './formats';
import type { Config } from './types';

// Node's timers overflow above 2^31 - 1 ms and then fire at once, so a longer timeout would act as
// "immediately" instead of "very long".
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export function limitsSchema(): SchemaOf<Config['limits']> {
  return {
    maxConnections: {
      doc: 'Open connections at once, from all addresses.',
      format: 'count',
      default: 200,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_CONNECTIONS',
      arg: 'max-connections',
    },
    maxConnectionsPerIp: {
      doc: 'Open connections at once from one IP address.',
      format: 'count',
      // Above what one user's parallel clients open (rclone at its defaults: 16).
      default: 64,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_CONNECTIONS_PER_IP',
      arg: 'max-connections-per-ip',
    },
    maxUnauthenticated: {
      doc: "Connections at once that have not logged in yet; past it every new one is dropped (the 'full' of OpenSSH's MaxStartups).",
      format: 'count',
      default: 100,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_UNAUTHENTICATED',
      arg: 'max-unauthenticated',
    },
    maxUnauthenticatedPerIp: {
      doc: 'Connections at once from one IP address that have not logged in yet.',
      format: 'count',
      default: 16,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_UNAUTHENTICATED_PER_IP',
      arg: 'max-unauthenticated-per-ip',
    },
    unauthenticatedDropStart: {
      doc: "Connections not logged in yet from which new ones are dropped at random (the 'start' of OpenSSH's MaxStartups); at or above max-unauthenticated, none are.",
      format: 'count',
      default: 40,
      min: 1,
      env: 'MINIFTP_LIMITS_UNAUTHENTICATED_DROP_START',
      arg: 'unauthenticated-drop-start',
    },
    unauthenticatedDropRate: {
      doc: "Percent of new connections dropped at unauthenticated-drop-start, rising to 100 at max-unauthenticated (the 'rate' of OpenSSH's MaxStartups).",
      format: 'count',
      default: 30,
      max: 100,
      env: 'MINIFTP_LIMITS_UNAUTHENTICATED_DROP_RATE',
      arg: 'unauthenticated-drop-rate',
    },
    loginGraceTime: {
      doc: 'Seconds a connection has from accept to a successful login, whatever it sends meanwhile.',
      format: 'count',
      default: 20,
      min: 1,
      max: MAX_TIMER_SECONDS,
      env: 'MINIFTP_LIMITS_LOGIN_GRACE_TIME',
      arg: 'login-grace-time',
    },
    idleTimeout: {
      doc: 'Seconds a logged-in connection may go unused (no SFTP request, no console input; keepalives do not count) before it is closed; 0 for never.',
      format: 'count',
      default: 900,
      max: MAX_TIMER_SECONDS,
      env: 'MINIFTP_LIMITS_IDLE_TIMEOUT',
      arg: 'idle-timeout',
    },
    maxAuthTries: {
      doc: 'Failed authentication attempts allowed on one connection before it is closed; each public key offered that is not on file counts, as in OpenSSH.',
      format: 'count',
      default: 6,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_AUTH_TRIES',
      arg: 'max-auth-tries',
    },
    maxSessionsPerUser: {
      doc: 'Logged-in connections one user may have at once (each can carry several SFTP channels).',
      format: 'count',
      // rclone at its defaults opens up to 16, lftp mirror -P N opens N.
      default: 50,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_SESSIONS_PER_USER',
      arg: 'max-sessions-per-user',
    },
    maxChannelsPerConnection: {
      doc: "Session channels (SFTP, exec, shell) open at once on one connection, as OpenSSH's MaxSessions; each SFTP channel has its own handle limit.",
      format: 'count',
      default: 10,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_CHANNELS_PER_CONNECTION',
      arg: 'max-channels-per-connection',
    },
    maxHandlesPerSession: {
      doc: 'Open file and directory handles in one SFTP session.',
      format: 'count',
      default: 256,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_HANDLES_PER_SESSION',
      arg: 'max-handles-per-session',
    },
    // Open handles, descriptors and listings (docs/security.md).
    maxHandlesPerUser: {
      doc: "Open file and directory handles one user may have across all their sessions; 0 for an eighth of the server's handle budget (the open-files limit less the reserve).",
      format: 'count',
      default: 0,
      env: 'MINIFTP_LIMITS_MAX_HANDLES_PER_USER',
      arg: 'max-handles-per-user',
    },
    reservedDescriptors: {
      doc: 'File descriptors kept out of the handle budget for accepting connections, logins, the logs and the database; 0 for 64 plus two per allowed connection. At most half the open-files limit.',
      format: 'count',
      default: 0,
      env: 'MINIFTP_LIMITS_RESERVED_DESCRIPTORS',
      arg: 'reserved-descriptors',
    },
    maxListingMemoryPerSession: {
      doc: 'Memory the open directory listings of one SFTP session may buffer (each open directory handle counts 128 KiB); 0 for no limit.',
      format: 'size',
      default: '8M',
      env: 'MINIFTP_LIMITS_MAX_LISTING_MEMORY_PER_SESSION',
      arg: 'max-listing-memory-per-session',
    },
    maxListingMemory: {
      doc: 'Memory the open directory listings of all sessions together may buffer; 0 for no limit.',
      format: 'size',
      default: '256M',
      env: 'MINIFTP_LIMITS_MAX_LISTING_MEMORY',
      arg: 'max-listing-memory',
    },
    maxPacket: {
      doc: 'Largest SFTP packet body in bytes: 256 KiB of data plus room for the request header.',
      format: 'count',
      default: 256 * 1024 + 1024,
      // SFTP v3 (draft-02, section 3) requires servers to take packets of 34000 bytes.
      min: 34000,
      max: 4 * 1024 * 1024,
      env: 'MINIFTP_LIMITS_MAX_PACKET',
      arg: 'max-packet',
    },
    maxPendingRequests: {
      doc: 'SFTP requests served at once on one channel before the server stops reading it.',
      format: 'count',
      default: 128,
      min: 1,
      env: 'MINIFTP_LIMITS_MAX_PENDING_REQUESTS',
      arg: 'max-pending-requests',
    },
    banThreshold: {
      doc: 'Failed logins from one IP address within ban-window seconds that get it banned.',
      format: 'count',
      default: 10,
      min: 1,
      env: 'MINIFTP_LIMITS_BAN_THRESHOLD',
      arg: 'ban-threshold',
    },
    banWindow: {
      doc: 'Seconds over which failed logins are counted for a ban.',
      format: 'count',
      default: 300,
      min: 1,
      env: 'MINIFTP_LIMITS_BAN_WINDOW',
      arg: 'ban-window',
    },
    banTime: {
      doc: 'Seconds a banned IP address stays banned.',
      format: 'count',
      default: 900,
      min: 1,
      env: 'MINIFTP_LIMITS_BAN_TIME',
      arg: 'ban-time',
    },
    accountLockThreshold: {
      doc: 'Failed password logins for one account within ban-window seconds, from addresses it has not logged in from, that lock it for such addresses; 0 for never.',
      format: 'count',
      default: 20,
      env: 'MINIFTP_LIMITS_ACCOUNT_LOCK_THRESHOLD',
      arg: 'account-lock-threshold',
    },
    accountLockTime: {
      doc: 'Seconds an account stays locked for addresses it has not logged in from.',
      format: 'count',
      default: 300,
      min: 1,
      env: 'MINIFTP_LIMITS_ACCOUNT_LOCK_TIME',
      arg: 'account-lock-time',
    },
  };
}
