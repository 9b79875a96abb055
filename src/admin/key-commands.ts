/** Public-key commands: key add / list / del. */
import { MiniftpError } from '../errors';
import { parseAuthorizedKey } from '../auth/public-keys';
import { formatTable } from './table';
import type { AdminServices, CommandSpec } from './types';
import { existingUser } from './validate';
import { when } from './views';

export function keyCommands(s: AdminServices): CommandSpec[] {
  return [
    {
      name: 'key add',
      usage: "key add NAME 'ssh-ed25519 AAAA… comment'",
      summary: 'let an account log in with a public key (one line of a .pub file)',
      details:
        `The key may be quoted or not: \`ssh host key add bob ssh-ed25519 AAAA… me@laptop\`\n` +
        `arrives as separate words, which are joined again. Options in front of the key type\n` +
        `(from="…") are refused rather than silently ignored.\n\n` +
        `  key add bob 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI… bob@laptop'`,
      minArgs: 2,
      maxArgs: Infinity,
      async run({ args }) {
        const [name = '', ...rest] = args.positionals;
        await existingUser(s.store.users, name);
        const key = parseAuthorizedKey(rest.join(' '));
        try {
          await s.store.keys.add({ user: name, ...key });
        } catch (err) {
          if (err instanceof MiniftpError && err.kind === 'exists') {
            throw MiniftpError.exists(`user '${name}' already has the key ${key.fingerprint}`);
          }
          throw err;
        }
        return {
          text: `key ${key.fingerprint} (${key.algo}${key.comment ? `, ${key.comment}` : ''}) added to '${name}'`,
          json: { name, fingerprint: key.fingerprint, algo: key.algo, comment: key.comment },
          log: { fingerprint: key.fingerprint },
        };
      },
    },
    {
      name: 'key list',
      usage: 'key list NAME [--json]',
      summary: "an account's public keys with their fingerprints",
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const name = args.positionals[0] ?? '';
        await existingUser(s.store.users, name);
        const keys = await s.store.keys.list(name);
        return {
          text:
            keys.length === 0
              ? `'${name}' has no keys (add one with: key add ${name} 'ssh-ed25519 AAAA…')`
              : formatTable(
                  [
                    { header: 'FINGERPRINT' },
                    { header: 'TYPE' },
                    { header: 'COMMENT' },
                    { header: 'ADDED' },
                  ],
                  keys.map((k) => [k.fingerprint, k.algo, k.comment, when(k.addedAt)]),
                ),
          json: keys.map((k) => ({
            fingerprint: k.fingerprint,
            algo: k.algo,
            comment: k.comment,
            addedAt: k.addedAt,
          })),
        };
      },
    },
    {
      name: 'key del',
      aliases: ['key delete', 'key rm'],
      usage: 'key del NAME FINGERPRINT',
      summary: 'remove a public key (fingerprint as `key list` shows it)',
      minArgs: 2,
      maxArgs: 2,
      async run({ args }) {
        const [name = '', given = ''] = args.positionals;
        await existingUser(s.store.users, name);
        // ssh-keygen -l prints "SHA256:…"; accept the bare digest too, and any case of the prefix.
        const fingerprint = `SHA256:${given.replace(/^sha256:/i, '')}`;
        if (!(await s.store.keys.remove(name, fingerprint))) {
          throw MiniftpError.notFound(
            `user '${name}' has no key ${fingerprint} (see: key list ${name})`,
          );
        }
        return {
          text: `key ${fingerprint} removed from '${name}'`,
          json: { name, fingerprint, removed: true },
          log: { fingerprint },
        };
      },
    },
  ];
}
