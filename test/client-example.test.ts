// docs/examples/client-example.ts, run as a user would run it (`node docs/examples/client-example.ts`)
// against a live server: it signs up, uploads, prints the job's progress and saves the result.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photo, root } from './helpers.ts';
import { startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

const example = fileURLToPath(new URL('../docs/examples/client-example.ts', import.meta.url));
const run = promisify(execFile);

let h: ApiHarness;
let dir: string;

beforeAll(async () => {
  h = await startApi();
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-client-example-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the client example', () => {
  it('paints the photo in watercolour, showing progress, and saves the result', async () => {
    const result = path.join(dir, 'result.jpg');
    const { stdout } = await run(process.execPath, [example, photo('chelsea.png'), result], {
      cwd: root,
      env: { ...process.env, ATELIER_URL: h.url },
    });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^signed up as example-[0-9a-f]{8}@example\.org$/);
    expect(lines).toContain('uploaded chelsea.png: 451×300 png');
    const progress = lines.filter((l) => /^(queued|running|succeeded) +\[[#.]{20}\] \d+%$/.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toBe(`succeeded [${'#'.repeat(20)}] 100%`);
    expect(lines.at(-1)).toBe(`result: ${result} (451×300 jpeg)`);

    const meta = await sharp(result).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 451, 300]);
    const { channels } = await sharp(result).stats();
    // A painting, not a blank page: the colour channels still vary across the image.
    expect(channels.slice(0, 3).every((c) => c.stdev > 5)).toBe(true);
  });

  it('logs in with ATELIER_EMAIL and ATELIER_PASSWORD, and writes the format the name asks for', async () => {
    await h.signUp('painter@example.org', 'a long enough secret');
    const result = path.join(dir, 'painted.png');
    const { stdout } = await run(process.execPath, [example, photo('chelsea.png'), result], {
      cwd: root,
      env: {
        ...process.env,
        ATELIER_URL: h.url,
        ATELIER_EMAIL: 'painter@example.org',
        ATELIER_PASSWORD: 'a long enough secret',
      },
    });
    expect(stdout).toMatch(/^logged in as painter@example\.org$/m);
    expect((await sharp(result).metadata()).format).toBe('png');
  });

  it('exits non-zero with a readable message when something is wrong', async () => {
    const closed = await closedPort();
    const refused = run(process.execPath, [example, photo('chelsea.png'), path.join(dir, 'x.jpg')], {
      cwd: root,
      env: { ...process.env, ATELIER_URL: `http://127.0.0.1:${closed}` },
    });
    await expect(refused).rejects.toMatchObject({
      code: 1,
      stderr: `client-example: cannot reach the Atelier API at http://127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed}\n`,
    });

    const wrongPassword = run(process.execPath, [example, photo('chelsea.png'), path.join(dir, 'y.jpg')], {
      cwd: root,
      env: {
        ...process.env,
        ATELIER_URL: h.url,
        ATELIER_EMAIL: 'painter@example.org',
        ATELIER_PASSWORD: 'wrong',
      },
    });
    await expect(wrongPassword).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^client-example: .+ \(AUTH_INVALID_CREDENTIALS\)\n$/),
    });
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
