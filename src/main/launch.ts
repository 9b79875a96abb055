/**
 * How `miniftp-server` makes the kernel enforce file modes when it starts as
 * root (see privileges.ts): unless `runAs` is set, it runs the server again
 * through util-linux's setpriv without CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH, and stays beside it only to pass signals in and the
 * exit status out. Node cannot replace its own process image, hence the second
 * process; MINIFTP_MODES_ENFORCED marks the inner one.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CAP_SETPCAP, bypassesModes, hasCapability } from './privileges';

export const INNER_ENV = 'MINIFTP_MODES_ENFORCED';

/** The capabilities setpriv removes, in its spelling. */
const DROPPED = '-dac_override,-dac_read_search';

/** Signals passed on to the server (it stops on INT and TERM; HUP ends it as before). */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export type LaunchPlan =
  | { readonly kind: 'serve' }
  | { readonly kind: 'reexec'; readonly setpriv: string }
  | { readonly kind: 'refuse'; readonly message: string };

const WAY_OUT = 'start it with --run-as USER (an unprivileged user the data directory belongs to)';

/**
 * What to do before serving. `caps`: the effective capabilities (undefined off
 * Linux); `runAs`: the setting; `setpriv`: where setpriv is, if anywhere.
 */
export function planLaunch(o: {
  caps: bigint | undefined;
  runAs: string;
  inner: boolean;
  setpriv: string | undefined;
}): LaunchPlan {
  // runAs switches to an ordinary user after binding, which clears every capability.
  if (!bypassesModes(o.caps) || o.runAs !== '') return { kind: 'serve' };
  const lead = 'running as root, this server would read and write files whatever modes users set';
  if (o.inner) {
    return {
      kind: 'refuse',
      message: `${lead}: setpriv ran but CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH is still effective; ${WAY_OUT}`,
    };
  }
  if (o.caps !== undefined && !hasCapability(o.caps, CAP_SETPCAP)) {
    return {
      kind: 'refuse',
      message: `${lead}, and it cannot give up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH without CAP_SETPCAP; ${WAY_OUT}`,
    };
  }
  if (o.setpriv === undefined) {
    return {
      kind: 'refuse',
      message: `${lead}, and setpriv (util-linux), which gives up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, is not on the PATH; install util-linux, or ${WAY_OUT}`,
    };
  }
  return { kind: 'reexec', setpriv: o.setpriv };
}

/** The first executable `setpriv` on `PATH`. */
export function findSetpriv(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const file = path.join(dir, 'setpriv');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/**
 * Runs this same command again through setpriv, without the two capabilities
 * (also out of the inheritable set, so nothing can hand them back), and
 * resolves with its exit code; a server ended by a signal ends this process
 * with the same signal. The server runs in its own session, so a Ctrl-C at a
 * terminal reaches it once, through here; should this process die, the kernel
 * kills the server too (--pdeathsig), as if it had been one process.
 */
export function reexec(setpriv: string, argv: readonly string[]): Promise<number> {
  const script = process.argv[1] ?? '';
  const child = spawn(
    setpriv,
    [
      '--inh-caps',
      DROPPED,
      '--bounding-set',
      DROPPED,
      '--pdeathsig',
      'KILL',
      '--',
      process.execPath,
      ...process.execArgv,
      script,
      ...argv,
    ],
    { stdio: 'inherit', detached: true, env: { ...process.env, [INNER_ENV]: '1' } },
  );
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const s of FORWARDED) process.on(s, forward);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      for (const s of FORWARDED) process.off(s, forward);
      process.stderr.write(`miniftp-server: cannot run ${setpriv}: ${err.message}\n`);
      resolve(2);
    });
    child.once('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      if (signal !== null) {
        process.kill(process.pid, signal);
        // Signals this process does not die of (none expected) end it with the shell's code.
        resolve(128 + (os.constants.signals[signal] ?? 0));
        return;
      }
      resolve(code ?? 1);
    });
  });
}
