// `atelier payments list|grant|revoke`: payments and HD unlocks from the server's own machine.
import type { Command } from 'commander';
import { Option } from 'commander';
import type { PaymentStatus } from '@atelier/db';
import { integer } from './cli-args.ts';
import { readConfig } from './config.ts';
import type { PaymentsService } from './payments/index.ts';
import type { AccountService } from './auth/index.ts';

const STATUSES: readonly PaymentStatus[] = ['pending', 'paid', 'failed', 'expired', 'refunded'];

// Payments need only the (migrated) database: no queue, storage, plugins or engine to start.
async function withPayments<T>(
  fn: (payments: PaymentsService, accounts: AccountService) => Promise<T>,
): Promise<T> {
  const { openDatabaseRoot } = await import('./container.ts');
  const { PaymentsService } = await import('./payments/index.ts');
  const { AccountService } = await import('./auth/index.ts');
  const root = await openDatabaseRoot(readConfig());
  try {
    return await fn(root.container.resolve(PaymentsService), root.container.resolve(AccountService));
  } finally {
    await root.close();
  }
}

export function registerPaymentCommands(program: Command): void {
  const payments = program
    .command('payments')
    .description('payments for HD results, and HD unlocks (docs/payments.md)');
  payments
    .command('list')
    .description("list payments, newest first (everyone's, or one user's)")
    .option('--user <email>', "only this user's payments")
    .addOption(new Option('--status <status>', 'only payments in this state').choices(STATUSES))
    .option('--limit <n>', 'at most this many (1-100)', integer('limit', 1, 100), 50)
    .option('--json', 'print JSON lines, one payment each')
    .action(async (opts: { user?: string; status?: PaymentStatus; limit: number; json?: boolean }) => {
      await withPayments(async (service, accounts) => {
        const userId = opts.user ? (await accounts.byEmail(opts.user)).id : undefined; // USER_NOT_FOUND
        const page = await service.list({
          limit: opts.limit,
          ...(userId ? { userId } : {}),
          ...(opts.status ? { status: opts.status } : {}),
        });
        for (const p of page.items) {
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(p)}\n`);
            continue;
          }
          const price = `${(p.amount / 100).toFixed(2)} ${p.currency.toUpperCase()}`;
          process.stdout.write(
            `${p.id}  ${p.createdAt.toISOString()}  ${p.status.padEnd(8)}  ${price.padStart(10)}  job ${p.jobId ?? '(deleted)'}  ${p.userEmail ?? '(deleted user)'}\n`,
          );
        }
        if (!opts.json && page.items.length === 0) process.stdout.write('no payments\n');
      });
    });
  for (const [name, unlocked] of [
    ['grant', true],
    ['revoke', false],
  ] as const) {
    payments
      .command(name)
      .description(
        unlocked
          ? "unlock a job's HD result without a payment (audited)"
          : "lock a job's HD result again, whatever unlocked it (audited; refunds nothing)",
      )
      .argument('<jobId>', 'the job')
      .action(async (jobId: string) => {
        await withPayments(async (service) => {
          await service.setUnlocked(null, jobId, unlocked); // JOB_NOT_FOUND
          process.stdout.write(`${unlocked ? 'unlocked' : 'locked'} the HD result of job ${jobId}\n`);
        });
      });
  }
}
