/** Group commands: group add / del / list / show, group member add / del. */
import { MiniftpError } from '../errors';
import { accessOf, checkName, confirmed, plural } from './access-common';
import { formatFields, formatTable } from './table';
import type { AdminServices, CommandSpec } from './types';
import { existingUser } from './validate';

function existingGroup(
  s: AdminServices,
  name: string,
): { name: string; members: readonly string[] } {
  const g = accessOf(s).dir.snapshot.groups.find((x) => x.name === name);
  if (!g) throw MiniftpError.notFound(`no group '${name}' (see: group list)`);
  return g;
}

export function groupCommands(s: AdminServices): CommandSpec[] {
  const word = (args: { positionals: readonly string[] }, i: number): string =>
    args.positionals[i] ?? '';
  return [
    {
      name: 'group add',
      usage: 'group add NAME',
      summary: 'create a group of users (folders can be granted to it)',
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const name = word(args, 0);
        checkName('group', name);
        const { dir, store } = accessOf(s);
        await store.addGroup(name);
        await dir.changed();
        return { text: `group '${name}' created`, json: { name, members: [] } };
      },
    },
    {
      name: 'group del',
      aliases: ['group delete', 'group rm'],
      usage: 'group del NAME [--yes]',
      summary: 'delete a group and its grants (its members keep their accounts)',
      options: { yes: 'switch' },
      minArgs: 1,
      maxArgs: 1,
      async run({ args, io }) {
        const g = existingGroup(s, word(args, 0));
        const { dir, store } = accessOf(s);
        const grants = dir.snapshot.grants.filter((x) => x.group === g.name).length;
        const question = `Delete group '${g.name}' (${plural(g.members.length, 'member')}, ${plural(grants, 'grant')})?`;
        if (!(await confirmed(io, args.has('yes'), 'group del', question))) {
          return { text: 'nothing deleted', json: { name: g.name, deleted: false } };
        }
        await store.deleteGroup(g.name);
        await dir.changed();
        return {
          text: `group '${g.name}' deleted with ${plural(grants, 'grant')}`,
          json: { name: g.name, deleted: true, grants },
        };
      },
    },
    {
      name: 'group member',
      usage: 'group member add|del GROUP USER...',
      summary: 'add users to a group, or take them out',
      minArgs: 3,
      maxArgs: Infinity,
      target: (args) => args.positionals[1],
      async run({ args }) {
        const action = word(args, 0);
        if (action !== 'add' && action !== 'del') {
          throw MiniftpError.invalid(`group member takes add or del, got '${action}'`);
        }
        const g = existingGroup(s, word(args, 1));
        const users = [...new Set(args.positionals.slice(2))];
        for (const u of users) {
          const account = await existingUser(s.store.users, u);
          if (account.isAdmin)
            throw MiniftpError.invalid(`the admin account '${u}' has no home to share`);
        }
        const { dir, store } = accessOf(s);
        const changed =
          action === 'add'
            ? await store.addMembers(g.name, users)
            : await store.removeMembers(g.name, users);
        await dir.changed();
        const members = existingGroup(s, g.name).members;
        const verb = action === 'add' ? 'added to' : 'removed from';
        return {
          text:
            changed.length === 0
              ? `nothing changed: group '${g.name}' has ${plural(members.length, 'member')}`
              : `${changed.join(', ')} ${verb} group '${g.name}'`,
          json: { name: g.name, [action === 'add' ? 'added' : 'removed']: changed, members },
          log: { group: g.name, users: changed.join(',') },
        };
      },
    },
    {
      name: 'group list',
      aliases: ['groups', 'group ls'],
      usage: 'group list [--json]',
      summary: 'list groups and their members',
      maxArgs: 0,
      async run() {
        const groups = accessOf(s).dir.snapshot.groups;
        const rows = groups.map((g) => [g.name, String(g.members.length), g.members.join(' ')]);
        return {
          text:
            groups.length === 0
              ? 'no groups (see: help group add)'
              : formatTable(
                  [{ header: 'NAME' }, { header: 'MEMBERS', align: 'right' }, { header: 'USERS' }],
                  rows,
                ),
          json: groups.map((g) => ({ name: g.name, members: g.members })),
        };
      },
    },
    {
      name: 'group show',
      usage: 'group show NAME [--json]',
      summary: 'one group: its members and the folders granted to it',
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const g = existingGroup(s, word(args, 0));
        const grants = accessOf(s)
          .dir.snapshot.grants.filter((x) => x.group === g.name)
          .map((x) => ({ folder: x.folder, mode: x.mode, at: x.at }));
        return {
          text: formatFields([
            ['name', g.name],
            ['members', g.members.length === 0 ? 'none' : g.members.join(', ')],
            [
              'folders',
              grants.length === 0
                ? 'none'
                : grants.map((x) => `${x.folder} (${x.mode}, at ${x.at})`).join(', '),
            ],
          ]),
          json: { name: g.name, members: g.members, grants },
        };
      },
    },
  ];
}
