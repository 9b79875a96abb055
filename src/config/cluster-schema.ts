/** The `cluster` section of the schema: worker processes, the node's name, shared homes, heartbeats. */
import type { SchemaOf } from './formats';
import type { Config } from './types';

/** More worker processes than this is a typing mistake, not a machine. */
export const MAX_WORKERS = 256;

export function clusterSchema(): SchemaOf<Config['cluster']> {
  return {
    workers: {
      doc: 'Server processes on this machine: a number, or auto for one per CPU core. With more than one, a primary process accepts the connections and hands them to the workers in turn; 1 runs a single process.',
      format: 'workers',
      default: 1,
      min: 1,
      max: MAX_WORKERS,
      env: 'MINIFTP_CLUSTER_WORKERS',
      arg: 'workers',
    },
    nodeName: {
      doc: 'Name of this node in the console (`sessions`, `nodes`); unique among the nodes sharing one store. Empty: the host name and the process id.',
      format: 'text',
      default: '',
      allowEmpty: true,
      env: 'MINIFTP_CLUSTER_NODE_NAME',
      arg: 'node-name',
    },
    homesDir: {
      doc: 'Directory of the user homes (<homesDir>/<user>/), which nodes sharing one store must share too (a network file system). Empty: <dataDir>/docs. Relative to the working directory.',
      format: 'text',
      default: '',
      allowEmpty: true,
      env: 'MINIFTP_CLUSTER_HOMES_DIR',
      arg: 'homes-dir',
    },
    heartbeatInterval: {
      doc: 'Seconds between two heartbeats of a node in the store (its row in `nodes`, the bytes of its sessions).',
      format: 'count',
      default: 5,
      min: 1,
      max: 3600,
      env: 'MINIFTP_CLUSTER_HEARTBEAT_INTERVAL',
      arg: 'heartbeat-interval',
    },
    nodeTimeout: {
      doc: 'Seconds without a heartbeat after which a node counts as dead: the other nodes remove it and its sessions from `nodes` and `sessions`. More than heartbeat-interval.',
      format: 'count',
      default: 30,
      min: 2,
      max: 86400,
      env: 'MINIFTP_CLUSTER_NODE_TIMEOUT',
      arg: 'node-timeout',
    },
  };
}
