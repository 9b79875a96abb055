/** Per-path permission commands: perm set / del / list. */
import { MiniftpError } from '../errors';
import { accessOf, parseMode, parseViewPath } from './access-common';
import { formatTable } from './table';
import type { AdminServices, CommandSpec } from './types';
import { existingUser } from './validate';

async function ordinary(s: AdminServices, name: string): Promise<string> {
  const u = await existingUser(s.store.users, name);
  if (u.isAdmin) throw MiniftpError.invalid(`the admin account '${name}' has no home`);
  return u.name;
}

export function permCommands(s: AdminServices): CommandSpec[] {
  const word = (args: { positionals: readonly string[] }, i: number): string =>
    args.positionals[i] ?? '';
  return [
    {
      name: 'perm set',
      usage: 'perm set NAME /PATH read|write|upload',
      summary: 'set what a user may do at a path of their home and below it',
      details:
        `The deepest permission above a path counts. Inside a shared folder granted read or upload,\n` +
        `the grant holds whatever is set deeper. Applies to open sessions.\n\n` +
        `  perm set bob /handouts read`,
      minArgs: 3,
      maxArgs: 3,
      async run({ args }) {
        const user = await ordinary(s, word(args, 0));
        const path = parseViewPath(word(args, 1), 'the path');
        const mode = parseMode(word(args, 2));
        const { dir, store } = accessOf(s);
        await store.setPerm({ user, path, mode });
        await dir.changed();
        return {
          text: `${user}: ${path} is ${mode}`,
          json: { user, path, mode },
          log: { path, mode },
        };
      },
    },
    {
      name: 'perm del',
      aliases: ['perm rm'],
      usage: 'perm del NAME /PATH',
      summary: 'remove a per-path permission',
      minArgs: 2,
      maxArgs: 2,
      async run({ args }) {
        const user = await ordinary(s, word(args, 0));
        const path = parseViewPath(word(args, 1), 'the path');
        const { dir, store } = accessOf(s);
        if (!(await store.deletePerm(user, path))) {
          throw MiniftpError.notFound(
            `${user} has no permission set at ${path} (see: perm list ${user})`,
          );
        }
        await dir.changed();
        return {
          text: `${user}: permission at ${path} removed`,
          json: { user, path, deleted: true },
          log: { path },
        };
      },
    },
    {
      name: 'perm list',
      usage: 'perm list NAME [--json]',
      summary: "a user's per-path permissions and shared folders",
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const user = await ordinary(s, word(args, 0));
        const { dir } = accessOf(s);
        const perms = dir.snapshot.perms.filter((p) => p.user === user);
        const folders = dir.grantsOf(user).map((g) => ({
          path: g.at,
          mode: g.mode,
          folder: g.folder,
          via: g.group !== undefined ? `@${g.group}` : user,
        }));
        const rows = [
          ...perms.map((p) => [p.path, p.mode, 'permission']),
          ...folders.map((f) => [f.path, f.mode, `folder ${f.folder} (${f.via})`]),
        ].sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
        return {
          text:
            rows.length === 0
              ? `${user} may write everywhere in the home and has no shared folders`
              : formatTable([{ header: 'PATH' }, { header: 'MODE' }, { header: 'FROM' }], rows),
          json: { user, perms: perms.map((p) => ({ path: p.path, mode: p.mode })), folders },
        };
      },
    },
  ];
}
