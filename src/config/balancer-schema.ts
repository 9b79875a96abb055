/** The `balancer` section of the schema: running behind a TCP balancer, and draining. */
import type { SchemaOf } from './formats';
import type { Config } from './types';

export function balancerSchema(): SchemaOf<Config['balancer']> {
  return {
    proxyProtocol: {
      doc: "Every connection must come from one of trustedProxies and start with a PROXY protocol header (version 1 or 2, as HAProxy's send-proxy and send-proxy-v2 write); the client address in it is the one bans, limits, logs and `sessions` use. Connections from other addresses, and ones without a valid header, are closed before the SSH banner.",
      format: 'bool',
      default: false,
      env: 'MINIFTP_BALANCER_PROXY_PROTOCOL',
      arg: 'proxy-protocol',
    },
    trustedProxies: {
      doc: 'Addresses and networks of the balancers allowed to send PROXY headers, separated by commas, like 10.0.0.5,10.1.0.0/16,fd00::/8. Required with proxyProtocol.',
      format: 'cidr-list',
      default: '',
      allowEmpty: true,
      env: 'MINIFTP_BALANCER_TRUSTED_PROXIES',
      arg: 'trusted-proxies',
    },
    proxyHeaderTimeout: {
      doc: "How long a balancer's connection may take to send its whole PROXY header before it is closed, like 5s.",
      format: 'duration',
      default: '5s',
      min: 1,
      max: 60,
      env: 'MINIFTP_BALANCER_PROXY_HEADER_TIMEOUT',
      arg: 'proxy-header-timeout',
    },
    drainTimeout: {
      doc: "On SIGTERM or the console's `drain`, how long running transfers may go on once the server has stopped accepting connections; those still running then are ended with a message to reconnect, like 60s or 10m. 0 ends them at once.",
      format: 'duration',
      default: '60s',
      min: 0,
      max: 24 * 3600,
      env: 'MINIFTP_BALANCER_DRAIN_TIMEOUT',
      arg: 'drain-timeout',
    },
  };
}
