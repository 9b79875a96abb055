/** Account commands: user add / del / list / show / disable / enable, quota, passwd. */
import { MiniftpError } from '../errors';
import { DEFAULT_ADMIN_PASSWORD } from '../auth/passwords';
import type { UserRecord } from '../store/types';
import { formatFields, formatTable } from './table';
import type { AdminServices, CommandSpec, CommandResult } from './types';
import {
  checkNewUserName,
  confirm,
  existingUser,
  obtainPassword,
  parseFileCount,
  parseQuota,
} from './validate';
import { filesText, quotaText, stateText, usedText, userView, when } from './views';
import { opsView } from './history-commands';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** An ordinary account, or an error: the admin account is not managed by these commands. */
async function ordinaryUser(s: AdminServices, name: string, action: string): Promise<UserRecord> {
  const user = await existingUser(s.store.users, name);
  if (user.isAdmin) throw MiniftpError.permission(`cannot ${action} the admin account '${name}'`);
  return user;
}

function positional(args: { positionals: readonly string[] }, index: number): string {
  return args.positionals[index] ?? '';
}

export function userCommands(s: AdminServices): CommandSpec[] {
  return [
    {
      name: 'user add',
      usage: 'user add NAME [--quota SIZE] [--files N] [--password-stdin | --generate]',
      summary: 'create an account (asks the password twice unless told otherwise)',
      details:
        `SIZE is like 500M, 1G or unlimited; without --quota the server default applies.\n` +
        `--password-stdin reads the password from the next input line; --generate makes one up and\n` +
        `prints it once. The account can log in at once.\n\n` +
        `  user add bob --quota 1G\n` +
        `  echo 'secret' | ssh -p 8808 admin@host user add bob --quota 1G --password-stdin`,
      options: { quota: 'value', files: 'value', 'password-stdin': 'switch', generate: 'switch' },
      minArgs: 1,
      maxArgs: 1,
      async run({ args, io, actor }) {
        const name = positional(args, 0);
        checkNewUserName(name, s.adminName);
        if (await s.store.users.get(name)) {
          throw MiniftpError.exists(`user '${name}' exists (see: user show ${name})`);
        }
        const quotaArg = args.value('quota');
        const filesArg = args.value('files');
        const quotaBytes = quotaArg === undefined ? s.defaultQuota : parseQuota(quotaArg);
        const quotaFiles = filesArg === undefined ? s.defaultFileQuota : parseFileCount(filesArg);
        const { password, generated } = await obtainPassword(io, args, name);
        const passwordHash = await s.hasher.hash(password);
        await s.store.users.create({ name, passwordHash, quotaBytes, quotaFiles, isAdmin: false });
        s.ops?.userCreated(name, actor.user);
        s.quota.drop(name);
        await s.homes.ensure(name);
        // A home kept by an earlier `user del` (without --purge) may still hold files.
        await s.quota.rescan(name);
        const view = await userView(s, await existingUser(s.store.users, name));
        const lines = [`user '${name}' created, quota ${quotaText(quotaBytes)}`];
        if (view.usedBytes > 0) lines.push(`existing files in the home: ${usedText(view)}`);
        if (generated) lines.push(`password: ${password}`);
        return {
          text: lines.join('\n'),
          json: generated ? { ...view, password } : view,
          log: { quota_bytes: quotaBytes, quota_files: quotaFiles, generated },
        };
      },
    },
    {
      name: 'user del',
      aliases: ['user delete', 'user rm'],
      usage: 'user del NAME [--purge] [--yes]',
      summary: 'delete an account and end its sessions (files kept unless --purge)',
      details:
        `Without --purge the home directory stays on disk, and a new account of the same name gets\n` +
        `it back. The deletion is confirmed at a terminal; without one (a script, 'ssh host CMD')\n` +
        `--yes is required.\n\n` +
        `  user del bob\n  user del bob --purge --yes`,
      options: { purge: 'switch', yes: 'switch' },
      minArgs: 1,
      maxArgs: 1,
      async run({ args, io, actor }) {
        const name = positional(args, 0);
        if (name === actor.user) throw MiniftpError.permission('cannot delete your own account');
        await ordinaryUser(s, name, 'delete');
        const purge = args.has('purge');
        if (!args.has('yes')) {
          const what = purge ? 'and all their files' : '(files are kept)';
          // `ssh admin@host user del bob` from a script has no one to ask: it must say so.
          if (!io.terminal) {
            throw MiniftpError.invalid(
              `user del needs --yes without a terminal to confirm on (it would delete '${name}' ${what})`,
            );
          }
          if (!(await confirm(io, `Delete user '${name}' ${what}?`))) {
            return {
              text: 'nothing deleted',
              json: { name, deleted: false },
              log: { deleted: false },
            };
          }
        }
        await s.store.users.delete(name);
        s.ops?.userDeleted(name, actor.user);
        const ended = await s.connections.killUser(name, 'account deleted');
        s.quota.drop(name);
        await s.connections.changed(name, 'deleted');
        // Its group memberships, grants and permissions went with it.
        await s.access?.changed();
        if (purge) await s.homes.purge(name);
        return {
          text:
            `user '${name}' deleted; ${plural(ended, 'session')} ended; ` +
            (purge ? 'files removed' : 'files kept'),
          json: { name, deleted: true, sessionsEnded: ended, purged: purge },
          log: { deleted: true, purged: purge, sessions_ended: ended },
        };
      },
    },
    {
      name: 'user list',
      aliases: ['users', 'user ls'],
      usage: 'user list [--json]',
      summary: 'list accounts: quota, usage, files, state, last login',
      maxArgs: 0,
      async run() {
        const views = await Promise.all((await s.store.users.list()).map((u) => userView(s, u)));
        const rows = views.map((v) =>
          v.role === 'admin'
            ? [v.name, '-', '-', '-', stateText(v), when(v.lastLoginAt)]
            : [
                v.name,
                quotaText(v.quotaBytes),
                usedText(v),
                filesText(v),
                stateText(v),
                when(v.lastLoginAt),
              ],
        );
        const text = formatTable(
          [
            { header: 'NAME' },
            { header: 'QUOTA', align: 'right' },
            { header: 'USED', align: 'right' },
            { header: 'FILES', align: 'right' },
            { header: 'STATE' },
            { header: 'LAST LOGIN' },
          ],
          rows,
        );
        return { text, json: views };
      },
    },
    {
      name: 'user show',
      usage: 'user show NAME [--json]',
      summary: 'one account in detail: quota, usage, keys, live sessions',
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const user = await existingUser(s.store.users, positional(args, 0));
        const view = await userView(s, user);
        const ops = s.ops && (await opsView(s.ops, user.name));
        const keys = await s.store.keys.list(user.name);
        const sessions = (await s.connections.list()).filter((c) => c.user === user.name);
        const pairs: [string, string][] = [
          ['name', view.name],
          ['role', view.role],
          ['state', stateText(view)],
        ];
        if (view.role === 'user') {
          pairs.push(
            ['quota', quotaText(view.quotaBytes)],
            ['used', usedText(view)],
            ['files', view.quotaFiles > 0 ? filesText(view) : `${view.usedFiles} (no limit)`],
          );
        }
        pairs.push(
          ['keys', keys.length === 0 ? 'none' : keys.map((k) => k.fingerprint).join(', ')],
          ['sessions', sessions.length === 0 ? 'none' : sessions.map((c) => c.id).join(', ')],
          ['created', when(view.createdAt)],
          ['last login', when(view.lastLoginAt)],
          ...(ops?.pairs ?? []),
        );
        return {
          text: formatFields(pairs) + (ops ? `\n\nlast logins:\n${ops.table}` : ''),
          json: {
            ...view,
            keys: keys.map((k) => ({
              fingerprint: k.fingerprint,
              algo: k.algo,
              comment: k.comment,
            })),
            sessions: sessions.map((c) => c.id),
            ...ops?.json,
          },
        };
      },
    },
    {
      name: 'user disable',
      usage: 'user disable NAME',
      summary: 'refuse logins for an account and end its sessions (files and keys stay)',
      minArgs: 1,
      maxArgs: 1,
      async run({ args, actor }) {
        const name = positional(args, 0);
        if (name === actor.user) throw MiniftpError.permission('cannot disable your own account');
        await ordinaryUser(s, name, 'disable');
        await s.store.users.setDisabled(name, true);
        const ended = await s.connections.killUser(name, 'account disabled');
        return {
          text: `user '${name}' disabled; ${plural(ended, 'session')} ended`,
          json: { name, state: 'disabled', sessionsEnded: ended },
          log: { sessions_ended: ended },
        };
      },
    },
    {
      name: 'user enable',
      usage: 'user enable NAME',
      summary: 'allow logins again for a disabled account',
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const name = positional(args, 0);
        await ordinaryUser(s, name, 'enable');
        await s.store.users.setDisabled(name, false);
        return { text: `user '${name}' enabled`, json: { name, state: 'active' } };
      },
    },
    {
      name: 'quota',
      usage: 'quota NAME [SIZE] [--files N]',
      summary: 'show or set the quota of an account (applies to open sessions at once)',
      details:
        `SIZE is like 500M, 1G, 1.5G or unlimited; --files N limits the number of files\n` +
        `(or unlimited). Directories and symlinks count as files too, a directory with\n` +
        `4 KiB and a symlink with the length of its target. A user above a lowered quota can\n` +
        `still read and delete, but cannot upload until under it.\n\n` +
        `  quota bob 500M\n  quota bob unlimited --files 10000`,
      options: { files: 'value' },
      minArgs: 1,
      maxArgs: 2,
      async run({ args }) {
        const name = positional(args, 0);
        await ordinaryUser(s, name, 'set a quota on');
        const sizeArg = args.positionals[1];
        const filesArg = args.value('files');
        let log: CommandResult['log'];
        if (sizeArg !== undefined || filesArg !== undefined) {
          const current = await existingUser(s.store.users, name);
          const bytes = sizeArg === undefined ? current.quotaBytes : parseQuota(sizeArg);
          const files = filesArg === undefined ? undefined : parseFileCount(filesArg);
          await s.store.users.setQuota(name, bytes, files);
          await s.quota.refreshLimits(name);
          await s.connections.changed(name, 'quota');
          log = { quota_bytes: bytes, ...(files === undefined ? {} : { quota_files: files }) };
        }
        const view = await userView(s, await existingUser(s.store.users, name));
        const lines = [
          `quota of '${name}': ${quotaText(view.quotaBytes)}` +
            (view.quotaFiles > 0 ? `, ${view.quotaFiles} files` : ''),
          `used: ${usedText(view)}, ${filesText(view)} ${view.quotaFiles <= 0 && view.usedFiles === 1 ? 'file' : 'files'}`,
        ];
        if (view.overQuota) {
          lines.push(`'${name}' is over the quota: they can read and delete, but not upload more`);
        }
        const json = {
          name,
          quotaBytes: view.quotaBytes,
          quotaFiles: view.quotaFiles,
          usedBytes: view.usedBytes,
          usedFiles: view.usedFiles,
          overQuota: view.overQuota,
        };
        return log ? { text: lines.join('\n'), json, log } : { text: lines.join('\n'), json };
      },
    },
    {
      name: 'passwd',
      usage: 'passwd [NAME] [--password-stdin | --generate]',
      summary: "change a password (without NAME: the admin's own)",
      details:
        `Asks twice without echo, or reads the next input line with --password-stdin.\n` +
        `Sessions already open stay open.\n\n` +
        `  passwd\n  passwd bob --generate\n` +
        `  echo 'n3w' | ssh -p 8808 admin@host passwd bob --password-stdin`,
      options: { 'password-stdin': 'switch', generate: 'switch' },
      maxArgs: 1,
      target: (args, actor) => args.positionals[0] ?? actor.user,
      async run({ args, io, actor }) {
        const name = args.positionals[0] ?? actor.user;
        const user = await existingUser(s.store.users, name);
        const { password, generated } = await obtainPassword(io, args, name);
        await s.store.users.setPasswordHash(name, await s.hasher.hash(password));
        const warning =
          user.isAdmin && password === DEFAULT_ADMIN_PASSWORD
            ? `'${DEFAULT_ADMIN_PASSWORD}' is the first-start admin password: ` +
              'the server will not start on a non-loopback address until it is changed'
            : undefined;
        const text =
          `password of '${name}' changed` +
          (generated ? `\npassword: ${password}` : '') +
          (warning ? `\nwarning: ${warning}` : '');
        return {
          text,
          json: {
            name,
            changed: true,
            ...(generated ? { password } : {}),
            ...(warning ? { warning } : {}),
          },
          log: { generated },
        };
      },
    },
    {
      name: 'usage',
      usage: 'usage [NAME] [--rescan] [--json]',
      summary: 'disk usage against quota; --rescan measures the homes on disk again',
      details:
        `Usage is kept up to date as users write; --rescan rebuilds it from what is on disk\n` +
        `(after files were changed behind the server's back).\n\n  usage\n  usage bob --rescan`,
      options: { rescan: 'switch' },
      maxArgs: 1,
      async run({ args }) {
        const only = args.positionals[0];
        const users =
          only === undefined
            ? (await s.store.users.list()).filter((u) => !u.isAdmin)
            : [await ordinaryUser(s, only, 'measure')];
        const rescan = args.has('rescan');
        if (rescan) for (const u of users) await s.quota.rescan(u.name);
        const rows = await Promise.all(
          users.map(async (u) => {
            const view = await userView(s, u);
            return { view, scannedAt: (await s.store.usage.get(u.name)).scannedAt };
          }),
        );
        const text = formatTable(
          [
            { header: 'NAME' },
            { header: 'USED', align: 'right' },
            { header: 'QUOTA', align: 'right' },
            { header: 'FILES', align: 'right' },
            { header: 'SCANNED' },
          ],
          rows.map(({ view, scannedAt }) => [
            view.name,
            usedText(view),
            quotaText(view.quotaBytes),
            filesText(view),
            when(scannedAt),
          ]),
        );
        return {
          text,
          json: rows.map(({ view, scannedAt }) => ({
            name: view.name,
            usedBytes: view.usedBytes,
            usedFiles: view.usedFiles,
            quotaBytes: view.quotaBytes,
            quotaFiles: view.quotaFiles,
            overQuota: view.overQuota,
            scannedAt,
          })),
          ...(rescan ? { log: { rescan: true } } : {}),
        };
      },
    },
  ];
}
