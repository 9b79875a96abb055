/**
 * `-J [user@]host[:port]`, as OpenSSH's ProxyJump: the client logs in to the
 * jump host, asks it to open a TCP channel to the target (direct-tcpip,
 * ssh2's forwardOut) and speaks SSH to the target over that channel. Each
 * host's key is checked against the known hosts under its own name; the jump
 * host sees only encrypted bytes.
 */
import type { ClientChannel } from 'ssh2';
import { connect, login, type ConnectOptions, type Connection } from './connect';
import { ClientError } from './errors';

/** Connects to `target` through the jump host `jump`. */
export async function connectVia(
  jump: ConnectOptions,
  target: ConnectOptions,
): Promise<Connection> {
  const via = `${jump.host}:${jump.port}`;
  const j = await login(jump).catch((err: unknown) => {
    const why = err instanceof Error ? err.message : String(err);
    throw new ClientError(`jump host ${via}: ${why}`, { cause: err });
  });
  const dropJump = async (): Promise<void> => {
    j.conn.end();
    await j.closed;
  };
  let stream: ClientChannel;
  try {
    stream = await new Promise<ClientChannel>((resolve, reject) => {
      j.conn.forwardOut('127.0.0.1', 0, target.host, target.port, (err, channel) => {
        if (err) {
          reject(
            new ClientError(
              `the jump host ${via} did not open a channel to ${target.host}:${target.port}: ${err.message}`,
              { cause: err },
            ),
          );
        } else resolve(channel);
      });
    });
  } catch (err) {
    await dropJump();
    throw err;
  }
  let c: Connection;
  try {
    c = await connect({ ...target, sock: stream });
  } catch (err) {
    await dropJump();
    throw err;
  }
  // The target's connection ends with the jump host's, and closing it closes both.
  void j.closed.then(() => c.conn.end());
  return {
    ...c,
    close: async () => {
      await c.close();
      await dropJump();
    },
  };
}
