// `atelier plugins grant|revoke|grants` and `atelier secrets set|list|remove`: granting plugins
// the hosts and secrets they declare, and the secrets themselves, from the server's machine.
// A secret's value is read from standard input, never from the command line (which other users
// of the machine can see in the process list), and no command ever prints one.
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { AtelierError } from '@atelier/core';
import { collect } from './cli-args.ts';
import type { CapabilitiesService, PluginCapabilityView } from './capabilities.service.ts';
import { CLI_ACTOR } from './capabilities.service.ts';
import { readConfig } from './config.ts';

/** Where the commands write. */
export interface CapabilityCommandIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const processIo: CapabilityCommandIo = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
};

// The database and the plugins (to check grants against their declarations); no queue or engine.
async function withCapabilities<T>(fn: (service: CapabilitiesService) => Promise<T>): Promise<T> {
  const config = readConfig();
  const [{ openDatabaseRoot }, { CapabilitiesService }, { createRegistry }, { TOKENS }] = await Promise.all([
    import('./container.ts'),
    import('./capabilities.service.ts'),
    import('./runtime.ts'),
    import('./tokens.ts'),
  ]);
  const root = await openDatabaseRoot(config);
  try {
    root.container.register(TOKENS.PluginRegistry, { useValue: await createRegistry(config) });
    return await fn(root.container.resolve(CapabilitiesService));
  } finally {
    await root.close();
  }
}

const joined = (list: readonly string[]): string => (list.length === 0 ? '-' : list.join(', '));

/** One plugin's grant, as the commands print it. */
export function describeGrant(view: PluginCapabilityView): string {
  const lines = [
    `${view.id}: granted network ${joined(view.granted.network)}; secrets ${joined(view.granted.secrets)}`,
  ];
  if (view.missing.network.length > 0 || view.missing.secrets.length > 0) {
    lines.push(
      `  not granted (jobs are refused): network ${joined(view.missing.network)}; secrets ${joined(view.missing.secrets)}`,
    );
  }
  if (view.unsetSecrets.length > 0)
    lines.push(`  granted but not set (atelier secrets set NAME): ${view.unsetSecrets.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** Registers `grant`, `revoke` and `grants` on the `plugins` command, and the `secrets` command. */
export function registerCapabilityCommands(program: Command, io: CapabilityCommandIo = processIo): void {
  const plugins =
    program.commands.find((c) => c.name() === 'plugins') ??
    program.command('plugins').description('manage plugins');
  plugins
    .command('grant')
    .description('grant a plugin hosts and secrets it declares (added to what it has)')
    .argument('<id>', 'plugin id')
    .option('--network <host>', 'a host the plugin declares (repeatable)', collect, [])
    .option('--secret <NAME>', 'a secret the plugin declares (repeatable)', collect, [])
    .option('--all', 'everything the plugin declares')
    .action(async (id: string, opts: { network: string[]; secret: string[]; all?: boolean }) => {
      const view = await withCapabilities(async (service) => {
        if (opts.all) {
          const current = await service.plugin(id);
          return service.setGrant(CLI_ACTOR, {
            id,
            network: current.requested.network,
            secrets: current.requested.secrets,
          });
        }
        if (opts.network.length === 0 && opts.secret.length === 0)
          throw new AtelierError(
            'USAGE_INVALID',
            'Name what to grant: --network <host>, --secret <NAME> or --all.',
          );
        return service.grant(CLI_ACTOR, { id, network: opts.network, secrets: opts.secret });
      });
      io.stdout.write(describeGrant(view));
    });
  plugins
    .command('revoke')
    .description('take hosts and secrets back from a plugin (without options: everything)')
    .argument('<id>', 'plugin id')
    .option('--network <host>', 'a host to take back (repeatable)', collect, [])
    .option('--secret <NAME>', 'a secret to take back (repeatable)', collect, [])
    .action(async (id: string, opts: { network: string[]; secret: string[] }) => {
      const some = opts.network.length > 0 || opts.secret.length > 0;
      const view = await withCapabilities((service) =>
        service.revoke(CLI_ACTOR, some ? { id, network: opts.network, secrets: opts.secret } : { id }),
      );
      io.stdout.write(describeGrant(view));
    });
  plugins
    .command('grants')
    .description('what each plugin asks for (hosts, secrets) and what it was granted')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const views = await withCapabilities((service) => service.plugins());
      if (opts.json) io.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      else for (const view of views) io.stdout.write(describeGrant(view));
    });

  const secrets = program.command('secrets').description("the plugins' secrets (values are write-only)");
  secrets
    .command('set')
    .description('store or replace a secret; the value is read from standard input')
    .argument('<NAME>', 'secret name, e.g. OPENAI_API_KEY')
    .action(async (name: string) => {
      if (io.stdin.isTTY === true) io.stderr.write(`Type the value of ${name}, then Enter and Ctrl-D:\n`);
      // One trailing newline is what `echo` and a typed line add; it is not part of the value.
      const value = (await text(io.stdin)).replace(/\r?\n$/, '');
      const view = await withCapabilities((service) => service.setSecret(CLI_ACTOR, name, value));
      io.stdout.write(`stored ${view.name} (updated ${view.updatedAt})\n`);
    });
  secrets
    .command('list')
    .description('stored secrets: names and dates, never values')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await withCapabilities((service) => service.secrets());
      if (opts.json) io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else for (const s of list) io.stdout.write(`${s.name}  updated ${s.updatedAt}\n`);
    });
  secrets
    .command('remove')
    .description('delete a secret')
    .argument('<NAME>', 'secret name')
    .action(async (name: string) => {
      await withCapabilities((service) => service.removeSecret(CLI_ACTOR, name));
      io.stdout.write(`removed ${name}\n`);
    });
}
