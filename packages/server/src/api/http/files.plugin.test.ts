import { Readable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { AtelierError } from '@atelier/core';
import { signPath } from '../signed-url.ts';
import { authPlugin } from './auth.plugin.ts';
import { filesPlugin } from './files.plugin.ts';
import type { DownloadableImage, DownloadableJob, FileSource } from './files.plugin.ts';

const secret = new Uint8Array(32).fill(7);
const PNG = Buffer.from('89504e470d0a1a0a', 'hex');

/** Files in memory: an image and two jobs of alice's, a storage, session epochs. */
function memoryFiles() {
  const images = new Map<string, DownloadableImage>([
    ['img-1', { ownerId: 'alice', storageKey: 'originals/img-1', format: 'png', sha256: 'abc' }],
  ]);
  // job-done's HD file is locked: its standard file is a smaller copy, its HD one needs a payment.
  const jobs = new Map<string, DownloadableJob>([
    [
      'job-done',
      {
        id: 'job-done',
        ownerId: 'alice',
        resultFile: async (variant) => {
          if (variant === 'standard')
            return { key: 'free/1024/x/out.png', format: 'png', etag: 'p1-free-out.png' };
          throw new AtelierError('PAYMENT_REQUIRED', 'Pay first.', { details: { jobId: 'job-done', price } });
        },
      },
    ],
    [
      'job-paid',
      {
        id: 'job-paid',
        ownerId: 'alice',
        resultFile: async () => ({ key: 'results/x/out.png', format: 'png', etag: 'p1-out.png' }),
      },
    ],
    [
      'job-queued',
      {
        id: 'job-queued',
        ownerId: 'alice',
        resultFile: async () => {
          throw new AtelierError('JOB_NOT_FINISHED', 'Job job-queued is queued; it has no result yet.');
        },
      },
    ],
  ]);
  const epochs = new Map([['alice', 0]]);
  const objects = new Map([
    ['originals/img-1', PNG],
    ['results/x/out.png', PNG],
    ['free/1024/x/out.png', PNG],
  ]);
  const scoped = <T extends { ownerId: string }>(
    record: T | undefined,
    ownerId: string | undefined,
    code: 'IMAGE_NOT_FOUND' | 'JOB_NOT_FOUND',
  ) => {
    if (!record || (ownerId !== undefined && record.ownerId !== ownerId))
      throw new AtelierError(code, 'No such thing.');
    return record;
  };
  const files: FileSource = {
    getImage: async (id, ownerId) => scoped(images.get(id), ownerId, 'IMAGE_NOT_FOUND'),
    getJob: async (id, ownerId) => scoped(jobs.get(id), ownerId, 'JOB_NOT_FOUND'),
    stream: async (key) => {
      const bytes = objects.get(key);
      if (!bytes) throw new Error('storage exploded');
      return { body: Readable.from([bytes]), bytes: bytes.length };
    },
    urlEpoch: async (userId) => epochs.get(userId) ?? null,
  };
  return { files, epochs, objects };
}

async function app() {
  const memory = memoryFiles();
  const server = Fastify();
  await server.register(authPlugin, {
    resolve: async (req) => {
      const id = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      return { user: id ? { id, role: 'user' } : null };
    },
  });
  await server.register(filesPlugin, { files: memory.files, urlSecret: secret });
  return { server, ...memory };
}

const alice = { authorization: 'Bearer alice' };
const price = { amount: 199, currency: 'usd' };

describe('filesPlugin', () => {
  it('sends the owner their original and result with an immutable ETag, and 304 for it', async () => {
    const { server } = await app();
    const image = await server.inject({ url: '/files/images/img-1', headers: alice });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.headers['content-length']).toBe(String(PNG.length));
    expect(image.headers.etag).toBe('"abc"');
    expect(image.headers['cache-control']).toBe('private, max-age=31536000, immutable');
    expect(image.rawPayload).toEqual(PNG);
    const result = await server.inject({ url: '/files/jobs/job-paid', headers: alice });
    expect([result.statusCode, result.headers.etag]).toEqual([200, '"p1-out.png"']);
    const again = await server.inject({
      url: '/files/jobs/job-paid',
      headers: { ...alice, 'if-none-match': '"p1-out.png"' },
    });
    expect([again.statusCode, again.body]).toEqual([304, '']);
    const hd = await server.inject({ url: '/files/jobs/job-paid/hd', headers: alice });
    expect([hd.statusCode, hd.headers.etag]).toEqual([200, '"p1-out.png"']);
  });

  it('sends the standard file of a locked job, and answers its HD file 402 with the price', async () => {
    const { server } = await app();
    const standard = await server.inject({ url: '/files/jobs/job-done', headers: alice });
    expect([standard.statusCode, standard.headers.etag]).toEqual([200, '"p1-free-out.png"']);
    const hd = await server.inject({ url: '/files/jobs/job-done/hd', headers: alice });
    expect([hd.statusCode, hd.json()]).toEqual([
      402,
      { code: 'PAYMENT_REQUIRED', message: 'Pay first.', details: { jobId: 'job-done', price } },
    ]);
    // A URL signed for the standard file does not open the HD one.
    const signed = signPath(secret, '/files/jobs/job-paid', { userId: 'alice', epoch: 0 }).split('?')[1];
    const res = await server.inject(`/files/jobs/job-paid/hd?${signed}`);
    expect([res.statusCode, res.json().code]).toEqual([403, 'DOWNLOAD_URL_INVALID']);
    const hdUrl = signPath(secret, '/files/jobs/job-paid/hd', { userId: 'alice', epoch: 0 });
    expect((await server.inject(hdUrl)).statusCode).toBe(200);
  });

  it('answers { code, message }: 401 without a session, 404 for another user’s, 409 before the result', async () => {
    const { server } = await app();
    const anonymous = await server.inject('/files/images/img-1');
    expect([anonymous.statusCode, anonymous.json()]).toEqual([
      401,
      { code: 'AUTH_REQUIRED', message: 'Sign in, or use a signed download URL.' },
    ]);
    const bob = await server.inject({ url: '/files/images/img-1', headers: { authorization: 'Bearer bob' } });
    expect([bob.statusCode, bob.json()]).toEqual([
      404,
      { code: 'IMAGE_NOT_FOUND', message: 'No such thing.' },
    ]);
    const queued = await server.inject({ url: '/files/jobs/job-queued', headers: alice });
    expect([queued.statusCode, queued.json()]).toEqual([
      409,
      { code: 'JOB_NOT_FINISHED', message: 'Job job-queued is queued; it has no result yet.' },
    ]);
  });

  it('sends a file through a signed URL without a session, until the owner’s epoch moves on', async () => {
    const { server, epochs } = await app();
    const url = signPath(secret, '/files/jobs/job-done', { userId: 'alice', epoch: 0 });
    expect((await server.inject(url)).statusCode).toBe(200);
    // Signed for another file, altered, or expired: refused alike.
    const forImage = signPath(secret, '/files/images/img-1', { userId: 'alice', epoch: 0 }).split('?')[1];
    const expired = signPath(secret, '/files/jobs/job-done', { userId: 'alice', epoch: 0 }, -10);
    for (const bad of [`/files/jobs/job-done?${forImage}`, `${url}x`, expired]) {
      const res = await server.inject(bad);
      expect([res.statusCode, res.json().code]).toEqual([403, 'DOWNLOAD_URL_INVALID']);
    }
    epochs.set('alice', 1); // signed out everywhere
    expect((await server.inject(url)).json().code).toBe('DOWNLOAD_URL_INVALID');
    epochs.delete('alice'); // account gone
    expect((await server.inject(url)).statusCode).toBe(403);
  });

  it('answers an unexpected failure as 500 INTERNAL without its message', async () => {
    const { server, objects } = await app();
    objects.clear();
    const res = await server.inject({ url: '/files/images/img-1', headers: alice });
    expect([res.statusCode, res.json()]).toEqual([
      500,
      { code: 'INTERNAL', message: 'Something went wrong on our side.' },
    ]);
  });
});
