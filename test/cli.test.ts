// The `atelier` CLI as a user runs it: a real process, real files, exit codes and stderr lines.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photo, root, testPluginDir } from './helpers.ts';

const exec = promisify(execFile);
const cli = path.join(root, 'packages/server/src/cli.ts');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function atelier(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], {
      cwd: root,
      env: { ...process.env, ATELIER_PLUGIN_DIR: testPluginDir, ATELIER_THREADS: '2' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('atelier styles', () => {
  it('lists built-in and local plugins as a table', async () => {
    const { code, stdout } = await atelier('styles');
    expect(code).toBe(0);
    for (const id of [
      'cartoon',
      'sketch',
      'color-pencil',
      'oil-painting',
      'watercolor',
      'pop-art',
      'acme:invert',
    ]) {
      expect(stdout).toContain(id);
    }
  });

  it('--json gives id, name, version, kind and the JSON Schema of the params', async () => {
    const { code, stdout } = await atelier('styles', '--json');
    expect(code).toBe(0);
    const list = JSON.parse(stdout) as {
      id: string;
      name: string;
      version: string;
      kind: string;
      params: { type: string };
    }[];
    const invert = list.find((p) => p.id === 'acme:invert');
    expect(invert).toMatchObject({
      name: 'Invert',
      version: '1.2.0',
      kind: 'style',
      params: { type: 'object' },
    });
    expect(list.filter((p) => p.kind === 'style').length).toBeGreaterThanOrEqual(7);
  });
});

describe('atelier apply', () => {
  it('applies a style with --set to one file', async () => {
    const out = path.join(dir, 'one.png');
    const { code, stdout, stderr } = await atelier(
      'apply',
      photo('chelsea.png'),
      '--style',
      'acme:invert',
      '--set',
      'amount=1',
      '--out',
      out,
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(out);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 451, 300]);
  });

  it('applies a batch, failing only the bad file with a coded one-line error', async () => {
    const out = path.join(dir, 'batch');
    const { code, stderr } = await atelier(
      'apply',
      photo('chelsea.png'),
      photo('truncated.jpg'),
      photo('rocket.jpg'),
      '--style',
      'acme:invert',
      '--format',
      'webp',
      '--out',
      out,
    );
    expect(code).toBe(1);
    const errorLines = stderr.split('\n').filter((l) => l.startsWith('atelier: '));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/^atelier: IMAGE_CORRUPT: .*truncated\.jpg/);
    expect((await readdir(out)).sort()).toEqual(['chelsea.acme-invert.webp', 'rocket.acme-invert.webp']);
  });

  it('runs a plan of several steps from a file', async () => {
    const plan = path.join(dir, 'plan.json');
    await writeFile(
      plan,
      JSON.stringify({
        steps: [{ plugin: 'acme:invert' }, { plugin: 'acme:invert', params: { amount: 0.5 } }],
        output: { format: 'png' },
      }),
    );
    const out = path.join(dir, 'planned.png');
    const { code } = await atelier('apply', photo('chelsea.png'), '--plan', plan, '--out', out);
    expect(code).toBe(0);
    const { data } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect(Math.abs(data[0]! - 128)).toBeLessThanOrEqual(1); // half-inverting anything gives ~128
  });

  it.each([
    [['--style', 'acme:invert', '--set', 'amount=5'], 1, /^atelier: PARAMS_INVALID: .*amount/],
    [['--style', 'cartoon', '--set', 'darkness=0.5'], 1, /^atelier: PARAMS_INVALID: .*darkness/],
    [['--style', 'nope'], 1, /^atelier: PLUGIN_NOT_FOUND: /],
    [['--style', 'acme:invert', '--set', 'amount'], 1, /^atelier: PARAMS_INVALID: --set expects key=value/],
    [['--style', 'acme:invert', '--format', 'bmp'], 2, /^atelier: USAGE_INVALID: /],
  ])('rejects %j with a coded line', async (args, exit, pattern) => {
    const { code, stderr } = await atelier(
      'apply',
      photo('chelsea.png'),
      ...args,
      '--out',
      path.join(dir, 'x.png'),
    );
    expect(code).toBe(exit);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(pattern);
  });

  it('requires --out', async () => {
    const { code, stderr } = await atelier('apply', photo('chelsea.png'), '--style', 'acme:invert');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^atelier: USAGE_INVALID: .*--out/);
  });
});

describe('atelier submit', () => {
  it('refuses --out without --wait as a usage mistake (exit 2), before opening the database', async () => {
    const { code, stdout, stderr } = await atelier(
      'submit',
      photo('chelsea.png'),
      '--style',
      'acme:invert',
      '--out',
      path.join(dir, 'never'),
    );
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^atelier: USAGE_INVALID: --out needs --wait/);
  });
});

describe('atelier bench', () => {
  /** The invert fixture on a 320 px rocket. */
  const invertOnRocket = (): string[] => [
    'bench',
    photo('rocket.jpg'),
    '--style',
    'acme:invert',
    '--width',
    '320',
  ];

  it('--json prints style, width, height, threads, medianMs, medianCpuMs, peakRssMb and the output hash', async () => {
    const { code, stdout } = await atelier(...invertOnRocket(), '--repeat', '3', '--json');
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(result)).toEqual([
      'style',
      'width',
      'height',
      'threads',
      'medianMs',
      'medianCpuMs',
      'peakRssMb',
      'outputHash',
    ]);
    expect(result).toMatchObject({ style: 'acme:invert', width: 320, height: 214, threads: 1 });
    expect(result['outputHash']).toMatch(/^[0-9a-f]{64}$/);
    expect(result['medianMs']).toBeGreaterThan(0);
    expect(result['medianCpuMs']).toEqual(expect.any(Number));
    expect(result['medianCpuMs']).toBeGreaterThanOrEqual(0);
    expect(result['peakRssMb']).toBeGreaterThan(10);
  });

  it('--warmup sets the untimed runs before the timed ones (0 allowed), and refuses a negative count', async () => {
    const none = await atelier(...invertOnRocket(), '--warmup', '0', '--repeat', '1');
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(
      /acme:invert on 320x214, 1 thread\(s\): median [\d.]+ ms \(min [\d.]+ ms, 1 runs after 0 warm-up\)/,
    );
    const negative = await atelier('bench', photo('rocket.jpg'), '--style', 'acme:invert', '--warmup', '-1');
    expect(negative.code).not.toBe(0);
    expect(negative.stderr).toMatch(/USAGE_INVALID/);
    expect(negative.stderr).toMatch(/warmup/);
  });
});
