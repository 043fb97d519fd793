// `atelier users create|list|disable|enable`: account administration from the command line,
// notably making the first administrator.
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import type { AccountService } from './auth/index.ts';
import { readConfig } from './config.ts';

// Accounts need only the (migrated) database: no queue, storage, plugins or engine to start.
async function withAccounts<T>(fn: (accounts: AccountService) => Promise<T>): Promise<T> {
  const { openDatabaseRoot } = await import('./container.ts');
  const { AccountService } = await import('./auth/index.ts');
  const root = await openDatabaseRoot(readConfig());
  try {
    return await fn(root.container.resolve(AccountService));
  } finally {
    await root.close();
  }
}

export function registerUserCommands(program: Command): void {
  const users = program.command('users').description('manage accounts');
  users
    .command('create')
    .description('create an account (with --admin, an administrator)')
    .argument('<email>', 'email address (the login)')
    .option('--admin', 'give the account the admin role')
    .option('--name <name>', 'display name (default: the part of the email before @)')
    .option(
      '--password-stdin',
      'read the password from standard input (otherwise ATELIER_PASSWORD, or a generated one that is printed)',
    )
    .action(async (email: string, opts: { admin?: boolean; name?: string; passwordStdin?: boolean }) => {
      let password = opts.passwordStdin
        ? (await text(process.stdin)).replace(/\r?\n$/, '')
        : process.env['ATELIER_PASSWORD'];
      const generated = !password;
      password ||= randomBytes(15).toString('base64url');
      const user = await withAccounts((accounts) =>
        accounts.createUser({
          email,
          password: password!,
          displayName: opts.name ?? email.split('@')[0] ?? email,
          role: opts.admin ? 'admin' : 'user',
        }),
      );
      process.stdout.write(`created ${user.role} ${user.email} (${user.id})\n`);
      if (generated) process.stdout.write(`password: ${password}\n`);
    });
  users
    .command('list')
    .description('list accounts')
    .action(async () => {
      await withAccounts(async (accounts) => {
        for (const r of await accounts.list())
          process.stdout.write(
            `${r.id}  ${r.role.padEnd(5)}  ${r.disabled ? 'disabled' : 'active  '}  ${r.email}\n`,
          );
      });
    });
  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(name)
      .description(`${name} an account (disabling ends its sessions)`)
      .argument('<email>', 'email address')
      .action(async (email: string) => {
        await withAccounts(async (accounts) => {
          const user = await accounts.byEmail(email); // USER_NOT_FOUND
          await accounts.setDisabled(user.id, disabled);
          process.stdout.write(`${name}d ${email}\n`);
        });
      });
  }
}
