/** Shared folder commands: folder add / del / grant / revoke / list / show. */
import { MiniftpError } from '../errors';
import { folderSubject } from '../quota/quota-ledger';
import type { FolderRecord, GrantRecord } from '../store/access-types';
import { accessOf, checkName, confirmed, parseMode, parseViewPath, plural } from './access-common';
import { formatFields, formatTable } from './table';
import type { AdminServices, CommandSpec } from './types';
import { existingUser, parseFileCount, parseQuota } from './validate';
import { quotaText } from './views';
import { formatSize } from '../config/size';

function existingFolder(s: AdminServices, name: string): FolderRecord {
  const f = accessOf(s).dir.folder(name);
  if (!f) throw MiniftpError.notFound(`no folder '${name}' (see: folder list)`);
  return f;
}

/** "bob" or "@class1", checked to exist. */
async function grantee(s: AdminServices, text: string): Promise<{ user?: string; group?: string }> {
  if (text.startsWith('@')) {
    const group = text.slice(1);
    if (!accessOf(s).dir.snapshot.groups.some((g) => g.name === group)) {
      throw MiniftpError.notFound(`no group '${group}' (see: group list)`);
    }
    return { group };
  }
  const account = await existingUser(s.store.users, text);
  if (account.isAdmin)
    throw MiniftpError.invalid(`the admin account '${text}' has no home to share into`);
  return { user: text };
}

function granteeText(g: { user?: string; group?: string }): string {
  return g.group !== undefined ? `@${g.group}` : (g.user ?? '');
}

/** The folder's usage as its quota ledger counts it now. */
async function usageOf(
  s: AdminServices,
  f: FolderRecord,
): Promise<{ bytes: number; files: number }> {
  if (f.charge === 'uploader') return { bytes: 0, files: 0 };
  const u = await s.quota.get(folderSubject(f.name));
  return { bytes: u.bytes, files: u.files };
}

async function folderJson(s: AdminServices, f: FolderRecord): Promise<Record<string, unknown>> {
  const used = await usageOf(s, f);
  const grants = accessOf(s)
    .dir.snapshot.grants.filter((g) => g.folder === f.name)
    .map((g) => ({ to: granteeText(g), mode: g.mode, at: g.at }));
  return {
    name: f.name,
    quotaBytes: f.quotaBytes,
    quotaFiles: f.quotaFiles,
    charge: f.charge,
    usedBytes: used.bytes,
    usedFiles: used.files,
    grants,
  };
}

export function folderCommands(s: AdminServices): CommandSpec[] {
  const word = (args: { positionals: readonly string[] }, i: number): string =>
    args.positionals[i] ?? '';
  return [
    {
      name: 'folder add',
      usage: 'folder add NAME [--quota SIZE] [--files N] [--charge folder|uploader]',
      summary: 'create a shared folder, kept outside every home, with a quota of its own',
      details:
        `The folder's files count against its own quota (--quota, --files; unlimited without),\n` +
        `not against the users who upload them; --charge uploader charges each uploader instead.\n` +
        `Nobody sees it until it is granted (see: help folder grant).\n\n` +
        `  folder add handouts --quota 1G\n  folder add homework --quota 5G --files 10000`,
      options: { quota: 'value', files: 'value', charge: 'value' },
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const name = word(args, 0);
        checkName('folder', name);
        const charge = args.value('charge') ?? 'folder';
        if (charge !== 'folder' && charge !== 'uploader') {
          throw MiniftpError.invalid(`--charge takes folder or uploader, got '${charge}'`);
        }
        const quotaArg = args.value('quota');
        const filesArg = args.value('files');
        const quotaBytes = quotaArg === undefined ? 0 : parseQuota(quotaArg);
        const quotaFiles = filesArg === undefined ? 0 : parseFileCount(filesArg);
        const { dir, store } = accessOf(s);
        if (dir.folder(name))
          throw MiniftpError.exists(`folder '${name}' exists (see: folder show ${name})`);
        // A folder of that name deleted before may have left figures behind.
        s.quota.drop(folderSubject(name));
        await dir.ensureFolderDir(name);
        await store.addFolder({ name, quotaBytes, quotaFiles, charge });
        await dir.changed();
        // A directory kept by an earlier `folder del` (without --purge) may still hold files.
        if (charge === 'folder') await s.quota.rescan(folderSubject(name));
        const f = existingFolder(s, name);
        return {
          text: `folder '${name}' created, quota ${quotaText(quotaBytes)}${charge === 'uploader' ? ', charged to the uploaders' : ''}`,
          json: await folderJson(s, f),
          log: { quota_bytes: quotaBytes, quota_files: quotaFiles, charge },
        };
      },
    },
    {
      name: 'folder del',
      aliases: ['folder delete', 'folder rm'],
      usage: 'folder del NAME [--purge] [--yes]',
      summary: 'delete a shared folder and its grants (files kept unless --purge)',
      details:
        `It disappears from every home at once. Without --purge its directory stays on disk, and a\n` +
        `new folder of the same name gets it back. Without a terminal --yes is required.`,
      options: { purge: 'switch', yes: 'switch' },
      minArgs: 1,
      maxArgs: 1,
      async run({ args, io }) {
        const f = existingFolder(s, word(args, 0));
        const purge = args.has('purge');
        const question = `Delete folder '${f.name}' ${purge ? 'and all its files' : '(files are kept)'}?`;
        if (!(await confirmed(io, args.has('yes'), 'folder del', question))) {
          return { text: 'nothing deleted', json: { name: f.name, deleted: false } };
        }
        const { dir, store } = accessOf(s);
        await store.deleteFolder(f.name);
        await dir.changed();
        s.quota.drop(folderSubject(f.name));
        if (purge) await dir.purgeFolderDir(f.name);
        return {
          text: `folder '${f.name}' deleted; ${purge ? 'files removed' : 'files kept'}`,
          json: { name: f.name, deleted: true, purged: purge },
          log: { purged: purge },
        };
      },
    },
    {
      name: 'folder grant',
      usage: 'folder grant NAME USER|@GROUP read|write|upload [--as /PATH]',
      summary: "show a folder in a user's (or every group member's) home, with a mode",
      details:
        `read: list and download; write: everything; upload: a drop box (new files only, each user\n` +
        `sees and changes only their own). It appears at /NAME in the home unless --as says where\n` +
        `(the directory above it should exist in the home to be listed there). A user's own grant\n` +
        `counts over their groups'; of several groups, the one giving most. Applies to open sessions.\n\n` +
        `  folder grant handouts @class1 read\n  folder grant handouts teacher write\n` +
        `  folder grant homework @class1 upload --as /hand-in`,
      options: { as: 'value' },
      minArgs: 3,
      maxArgs: 3,
      async run({ args }) {
        const f = existingFolder(s, word(args, 0));
        const who = await grantee(s, word(args, 1));
        const mode = parseMode(word(args, 2));
        const at = parseViewPath(args.value('as') ?? `/${f.name}`, '--as');
        if (at === '/')
          throw MiniftpError.invalid('--as / would hide the whole home: name a directory');
        const { dir, store } = accessOf(s);
        const users =
          who.user !== undefined
            ? [who.user]
            : (dir.snapshot.groups.find((g) => g.name === who.group)?.members ?? []);
        for (const u of users) {
          const clash = dir.grantsOf(u).find((g) => g.folder !== f.name && g.at === at);
          if (clash) {
            throw MiniftpError.exists(
              `${u} already has folder '${clash.folder}' at ${at}: choose another --as`,
            );
          }
        }
        const grant: GrantRecord = { folder: f.name, ...who, mode, at };
        await store.grant(grant);
        await dir.changed();
        return {
          text: `folder '${f.name}' granted to ${granteeText(who)}: ${mode}, at ${at}`,
          json: { folder: f.name, to: granteeText(who), mode, at },
          log: { folder: f.name, to: granteeText(who), mode },
        };
      },
    },
    {
      name: 'folder revoke',
      usage: 'folder revoke NAME USER|@GROUP',
      summary: 'take a grant back (applies to open sessions at once)',
      minArgs: 2,
      maxArgs: 2,
      async run({ args }) {
        const f = existingFolder(s, word(args, 0));
        const text = word(args, 1);
        const who = text.startsWith('@') ? { group: text.slice(1) } : { user: text };
        const { dir, store } = accessOf(s);
        if (!(await store.revoke(f.name, who))) {
          throw MiniftpError.notFound(
            `folder '${f.name}' is not granted to ${text} (see: folder show ${f.name})`,
          );
        }
        await dir.changed();
        return {
          text: `folder '${f.name}' revoked from ${text}`,
          json: { folder: f.name, from: text, revoked: true },
          log: { folder: f.name, from: text },
        };
      },
    },
    {
      name: 'folder list',
      aliases: ['folders', 'folder ls'],
      usage: 'folder list [--json]',
      summary: 'list shared folders: quota, usage, grants',
      maxArgs: 0,
      async run() {
        const folders = accessOf(s).dir.snapshot.folders;
        const useds = await Promise.all(folders.map((f) => usageOf(s, f)));
        const rows = folders.map((f, i) => {
          const used = useds[i] ?? { bytes: 0, files: 0 };
          const grants = accessOf(s).dir.snapshot.grants.filter((g) => g.folder === f.name);
          return [
            f.name,
            f.charge === 'uploader' ? 'uploaders' : quotaText(f.quotaBytes),
            f.charge === 'uploader' ? '-' : formatSize(used.bytes),
            String(used.files),
            grants.map((g) => `${granteeText(g)}:${g.mode}`).join(' '),
          ];
        });
        return {
          text:
            folders.length === 0
              ? 'no shared folders (see: help folder add)'
              : formatTable(
                  [
                    { header: 'NAME' },
                    { header: 'QUOTA', align: 'right' },
                    { header: 'USED', align: 'right' },
                    { header: 'FILES', align: 'right' },
                    { header: 'GRANTS' },
                  ],
                  rows,
                ),
          json: await Promise.all(folders.map((f) => folderJson(s, f))),
        };
      },
    },
    {
      name: 'folder quota',
      usage: 'folder quota NAME SIZE [--files N]',
      summary: "change a shared folder's quota (applies to open sessions at once)",
      options: { files: 'value' },
      minArgs: 2,
      maxArgs: 2,
      async run({ args }) {
        const f = existingFolder(s, word(args, 0));
        if (f.charge === 'uploader') {
          throw MiniftpError.invalid(
            `folder '${f.name}' is charged to its uploaders: their own quotas apply (see: quota NAME)`,
          );
        }
        const quotaBytes = parseQuota(word(args, 1));
        const filesArg = args.value('files');
        const quotaFiles = filesArg === undefined ? f.quotaFiles : parseFileCount(filesArg);
        const { dir, store } = accessOf(s);
        await store.setFolderQuota(f.name, quotaBytes, quotaFiles);
        await dir.changed();
        return {
          text: `folder '${f.name}': quota ${quotaText(quotaBytes)}${quotaFiles > 0 ? `, ${quotaFiles} files` : ''}`,
          json: await folderJson(s, existingFolder(s, f.name)),
          log: { quota_bytes: quotaBytes, quota_files: quotaFiles },
        };
      },
    },
    {
      name: 'folder show',
      usage: 'folder show NAME [--json]',
      summary: 'one shared folder: quota, usage, who sees it where and how',
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const f = existingFolder(s, word(args, 0));
        const j = await folderJson(s, f);
        const used = await usageOf(s, f);
        const grants = accessOf(s).dir.snapshot.grants.filter((g) => g.folder === f.name);
        return {
          text: formatFields([
            ['name', f.name],
            ['charged to', f.charge === 'uploader' ? 'each uploader' : 'the folder'],
            ['quota', quotaText(f.quotaBytes)],
            [
              'used',
              `${formatSize(used.bytes)}, ${plural(used.files, 'file')}${f.quotaFiles > 0 ? ` of ${f.quotaFiles}` : ''}`,
            ],
            [
              'grants',
              grants.length === 0
                ? 'none'
                : grants.map((g) => `${granteeText(g)} ${g.mode} at ${g.at}`).join(', '),
            ],
          ]),
          json: j,
        };
      },
    },
  ];
}
