// The plugin kit's checks can fail: each plugin of test/fixtures/kit/bad.plugins.ts breaks one
// rule and the matching check reports `fail` (with a message that says what to do), while
// kit:good passes them all. Also `atelier plugin check` on a plugin package: table, --json, exit code.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKS, PluginChecker, checkPlugin, formatReport, goldenFileName } from '@atelier/plugin-kit';
import type { CheckName, CheckResult } from '@atelier/plugin-kit';
import { root } from './helpers.ts';

const exec = promisify(execFile);
const fixture = path.join(root, 'test/fixtures/kit/bad.plugins.ts');
const tmp = path.join(root, 'test/.tmp', `plugin-kit-${process.pid}`);
const goldens = path.join(tmp, 'goldens');

let checker: PluginChecker;

beforeAll(async () => {
  await mkdir(goldens, { recursive: true });
  checker = await PluginChecker.open(fixture, {
    budgets: { 'kit:good': { ms: 5000, memoryMb: 256 }, 'kit:slow': { ms: 300, memoryMb: 256 } },
    goldens: { dir: goldens },
    fuzzRuns: 6,
  });
});

afterAll(async () => {
  await checker.close();
  await rm(tmp, { recursive: true, force: true });
});

async function run(plugin: string, check: CheckName): Promise<CheckResult> {
  return checker.run(plugin, check);
}

describe('checkPlugin on plugins that break a rule', () => {
  it('lists every plugin the module exports', () => {
    expect(checker.pluginIds).toEqual(
      expect.arrayContaining(['kit:good', 'kit:undocumented', 'kit:wrong-size', 'kit:lenient', 'kit:noisy']),
    );
  });

  it('manifest: fails a parameter without a description', async () => {
    const result = await run('kit:undocumented', 'manifest');
    expect(result.status).toBe('fail');
    expect(result.message).toContain('parameter "amount" has no description');
    expect((await run('kit:good', 'manifest')).status).toBe('pass');
  });

  it('params-valid: fails a plugin whose image is not the declared size, naming the parameters', async () => {
    const result = await run('kit:wrong-size', 'params-valid');
    expect(result.status).toBe('fail');
    expect(result.message).toMatch(/made a 95x64 image from 96x64, but declares no outputSize/);
    expect((await run('kit:good', 'params-valid')).status).toBe('pass');
  });

  it('params-invalid: fails a schema that accepts out-of-range values', async () => {
    const result = await run('kit:lenient', 'params-invalid');
    expect(result.status).toBe('fail');
    expect(result.message).toMatch(
      /^Invalid parameters were accepted: amount (below the minimum 0|above the maximum 1|wrong type)/,
    );
    const good = await run('kit:good', 'params-invalid');
    expect(good.status).toBe('pass');
    expect(good.details?.['runs']).toBe(200);
  });

  it('determinism: fails noise from Math.random()', async () => {
    const result = await run('kit:noisy', 'determinism');
    expect(result.status).toBe('fail');
    expect(result.message).toContain('use ctx.seed for noise');
    expect((await run('kit:good', 'determinism')).status).toBe('pass');
  });

  it('golden: fails when missing (saying how to make it), passes once written, fails on a changed look', async () => {
    const missing = await run('kit:good', 'golden');
    expect(missing.status).toBe('fail');
    expect(missing.message).toContain('ATELIER_UPDATE_GOLDENS=1');
    expect(missing.message).toContain('--update-goldens');

    const writer = await PluginChecker.open(fixture, {
      plugins: ['kit:good', 'kit:noisy'],
      goldens: { dir: goldens, update: true },
    });
    try {
      expect((await writer.run('kit:good', 'golden')).status).toBe('pass');
      expect((await writer.run('kit:noisy', 'golden')).status).toBe('pass');
    } finally {
      await writer.close();
    }
    const same = await run('kit:good', 'golden');
    expect(same.status).toBe('pass');
    expect(same.details?.['ssim']).toBe(1);
    const changed = await run('kit:noisy', 'golden');
    expect(changed.status).toBe('fail');
    expect(changed.message).toMatch(/SSIM 0\.\d+ < 0\.98/);
    // A golden of another size is a plain mismatch, not a crash.
    await cp(
      path.join(root, 'packages/plugins/goldens/rotate.png'),
      path.join(goldens, goldenFileName('kit:good')),
    );
    expect((await run('kit:good', 'golden')).message).toMatch(
      /The render is 256x171 but the golden .* is 171x256/,
    );
  });

  it('budget: fails a plugin over its declared time (stopped by the engine), skips without a budget', async () => {
    const slow = await run('kit:slow', 'budget');
    expect(slow.status).toBe('fail');
    expect(slow.message).toContain('PLUGIN_TIMEOUT');
    const good = await run('kit:good', 'budget');
    expect(good.status).toBe('pass');
    expect(good.details?.['input']).toEqual({ width: 1920, height: 1281 });
    expect(good.details?.['memoryMb']).toBeGreaterThan(0);
    expect((await run('kit:noisy', 'budget')).status).toBe('skip');
  });

  it('cancellation: fails a plugin that does not look at its signal', async () => {
    const result = await run('kit:deaf', 'cancellation');
    expect(result.status).toBe('fail');
    expect(result.message).toMatch(/the run took \d+ ms to stop \(limit 100 ms\)/);
    expect((await run('kit:slow', 'cancellation')).status).toBe('pass');
  });

  it('odd-inputs: fails a plugin that throws on an image with alpha', async () => {
    const result = await run('kit:fragile', 'odd-inputs');
    expect(result.status).toBe('fail');
    expect(result.message).toContain('On the alpha input it failed: PLUGIN_FAILED');
    const good = await run('kit:good', 'odd-inputs');
    expect(good.status).toBe('pass');
    expect(good.message).toBe('1x1 → 1x1, alpha → 64x48, grey → 64x48, 16-bit → 64x48, 20:1 → 400x20.');
  });
});

describe('checkPlugin', () => {
  it('reports a module that cannot be imported as a failed manifest, and skips the rest', async () => {
    const report = await checkPlugin(path.join(tmp, 'missing.ts'), { only: ['manifest', 'determinism'] });
    expect(report.ok).toBe(false);
    expect(report.results.map((r) => [r.check, r.status])).toEqual([
      ['manifest', 'fail'],
      ['determinism', 'skip'],
    ]);
    expect(report.results[0]?.message).toMatch(/^PLUGIN_LOAD_FAILED: Could not import plugin module/);
  });

  it('formats a table with one row per plugin and check and a summary', async () => {
    const report = await checkPlugin(fixture, { plugins: ['kit:good'], only: ['manifest', 'golden'] });
    const table = formatReport(report).split('\n');
    expect(table[0]).toMatch(/^plugin\s+check\s+status\s+time\s+message$/);
    expect(table[1]).toMatch(/^kit:good\s+manifest\s+pass\s+\d+ ms\s+kit:good@1\.0\.0/);
    expect(table[2]).toMatch(/^kit:good\s+golden\s+skip\s+\d+ ms\s+No goldens directory given\.$/);
    expect(table.at(-1)).toBe('1 passed, 0 failed, 1 skipped (engine 1.0.0)');
  });
});

describe('atelier plugin check', () => {
  const pkg = path.join(tmp, 'acme-kit');
  const atelier = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await exec(
        process.execPath,
        [path.join(root, 'packages/server/src/cli.ts'), ...args],
        {
          cwd: tmp,
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    // A plugin package as an author has it: its entry, a budget and a goldens directory.
    await mkdir(path.join(pkg, 'src'), { recursive: true });
    await cp(fixture, path.join(pkg, 'src/index.ts'));
    await writeFile(
      path.join(pkg, 'package.json'),
      JSON.stringify({
        name: 'acme-kit',
        type: 'module',
        exports: { '.': './src/index.ts' },
        atelier: { budget: { ms: 5000, memoryMb: 256 }, goldens: 'test/goldens' },
      }),
    );
  });

  it('writes the goldens with --update-goldens, then passes, and prints a table', async () => {
    const update = await atelier(
      'plugin',
      'check',
      pkg,
      '--plugins',
      'kit:good',
      '--only',
      'golden',
      '--update-goldens',
    );
    expect(update.code).toBe(0);
    expect(await readFile(path.join(pkg, 'test/goldens/kit__good.png'))).toBeTruthy();
    const { code, stdout } = await atelier(
      'plugin',
      'check',
      pkg,
      '--plugins',
      'kit:good',
      '--only',
      'manifest,golden,budget',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^kit:good\s+golden\s+pass\s+\d+ ms\s+SSIM 1 against kit__good\.png/m);
    expect(stdout).toMatch(
      /^kit:good\s+budget\s+pass\s+\d+ ms\s+\d+ ms of 5000, [\d.]+ MB of 256 at 1920x1281\.$/m,
    );
    expect(stdout).toMatch(/^3 passed, 0 failed, 0 skipped/m);
  });

  it('exits 1 when a check fails, and --json gives the whole report', async () => {
    const { code, stdout } = await atelier(
      'plugin',
      'check',
      pkg,
      '--plugins',
      'kit:lenient,kit:good',
      '--only',
      'params-invalid',
      '--json',
    );
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { ok: boolean; module: string; results: CheckResult[] };
    expect(report.ok).toBe(false);
    expect(report.module).toBe(`file://${path.join(pkg, 'src/index.ts')}`);
    expect(report.results.map((r) => [r.plugin, r.status])).toEqual([
      ['kit:good', 'pass'],
      ['kit:lenient', 'fail'],
    ]);
  });

  it('checks a single plugin file, and refuses an unknown check as a usage error', async () => {
    const file = await atelier('plugin', 'check', fixture, '--plugins', 'kit:good', '--only', 'manifest');
    expect(file.code).toBe(0);
    const bad = await atelier('plugin', 'check', pkg, '--only', 'speed');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      `USAGE_INVALID: Unknown check "speed"; the checks are ${CHECKS.join(', ')}.`,
    );
  });
});
