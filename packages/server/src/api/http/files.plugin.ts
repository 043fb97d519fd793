import type { Readable } from 'node:stream';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AtelierError, CONTENT_TYPES, isAtelierError } from '@atelier/core';
import type { InputFormat } from '@atelier/core';
import { errorBody } from '../error-body.ts';
import { atelierCause, toTRPCError } from '../errors.ts';
import { verifyPath } from '../signed-url.ts';

/** An uploaded original, as far as its download needs it. */
export interface DownloadableImage {
  readonly ownerId: string;
  readonly storageKey: string;
  readonly format: string;
  readonly sha256: string;
}

/** Which file of a job's result: the standard one, or the full-resolution (HD) one. */
export type ResultVariant = 'standard' | 'hd';

/** A job, as far as the download of its result needs it. */
export interface DownloadableJob {
  readonly id: string;
  readonly ownerId: string;
  /**
   * The stored file of one variant of its result, with its ETag. Throws `JOB_NOT_FINISHED` before
   * there is a result, `PAYMENT_REQUIRED` for a locked HD file.
   */
  resultFile(
    variant: ResultVariant,
  ): Promise<{ readonly key: string; readonly format: string; readonly etag: string }>;
}

/** What the downloads read: records (scoped to an owner when one is given), bytes, epochs. */
export interface FileSource {
  /** Throws `IMAGE_NOT_FOUND` when there is none (or it is not `ownerId`'s). */
  getImage(id: string, ownerId?: string): Promise<DownloadableImage>;
  /** Throws `JOB_NOT_FOUND` when there is none (or it is not `ownerId`'s). */
  getJob(id: string, ownerId?: string): Promise<DownloadableJob>;
  /** The stored object's bytes as a stream, and their count. */
  stream(key: string): Promise<{ readonly body: Readable; readonly bytes: number }>;
  /** The user's session epoch, which signed URLs sign; null when the user is gone or disabled. */
  urlEpoch(userId: string): Promise<number | null>;
}

/** Options of {@link filesPlugin}. */
export interface FilesPluginOptions {
  readonly files: FileSource;
  /** The secret signed download URLs are made with. */
  readonly urlSecret: Uint8Array;
}

type Kind = 'images' | 'jobs' | 'jobs-hd';
type FileRecord = { kind: 'images'; record: DownloadableImage } | { kind: 'jobs'; record: DownloadableJob };
type DownloadRequest = FastifyRequest<{
  Params: { id: string };
  Querystring: { expires?: string; sig?: string };
}>;

/**
 * Downloads at `/files/images/:id` (an original), `/files/jobs/:id` (a result's standard file) and
 * `/files/jobs/:id/hd` (its full resolution, 402 while locked: docs/payments.md): with the
 * session (cookie or Bearer, through `request.caller()` from {@link authPlugin}) of the owner, or
 * through a signed URL from `images.downloadUrl`/`jobs.downloadUrl`. Answers carry an ETag and are
 * immutable. Errors are `{ code, message }` with Atelier's code.
 *
 * @example
 * await app.register(filesPlugin, { files, urlSecret });
 */
export async function filesPlugin(app: FastifyInstance, options: FilesPluginOptions): Promise<void> {
  const { files, urlSecret } = options;
  const fileOf = async (kind: Kind, id: string, ownerId?: string): Promise<FileRecord> =>
    kind === 'images'
      ? { kind, record: await files.getImage(id, ownerId) }
      : { kind: 'jobs', record: await files.getJob(id, ownerId) };
  const pathOf = (kind: Kind, id: string): string =>
    kind === 'jobs-hd' ? `/files/jobs/${id}/hd` : `/files/${kind}/${id}`;

  // The file a signed URL grants, or undefined: the signature must be the owner's at their current
  // session epoch (signing out everywhere, a password change or disabling bumps it). A missing file
  // and a bad signature look alike. Malformed or expired URLs cost no query.
  const signedFile = async (
    kind: Kind,
    id: string,
    expires: string | undefined,
    sig: string | undefined,
  ): Promise<FileRecord | undefined> => {
    if (!expires || !sig || !/^\d{1,12}$/.test(expires) || Number(expires) * 1000 < Date.now())
      return undefined;
    const file = await fileOf(kind, id).catch((error: unknown) => {
      if (isAtelierError(error) && (error.code === 'IMAGE_NOT_FOUND' || error.code === 'JOB_NOT_FOUND'))
        return undefined;
      throw error;
    });
    if (!file) return undefined;
    const epoch = await files.urlEpoch(file.record.ownerId);
    if (epoch === null) return undefined;
    const signer = { userId: file.record.ownerId, epoch };
    return verifyPath(urlSecret, pathOf(kind, id), expires, sig, signer) ? file : undefined;
  };

  const download = async (req: DownloadRequest, reply: FastifyReply, kind: Kind) => {
    const { expires, sig } = req.query;
    try {
      let file = await signedFile(kind, req.params.id, expires, sig);
      if (!file) {
        const { user } = await req.caller();
        if (!user) {
          if (expires !== undefined || sig !== undefined)
            throw new AtelierError(
              'DOWNLOAD_URL_INVALID',
              'This download URL has expired or was revoked; ask for a new one.',
            );
          return reply.code(401).send(
            errorBody('plain', {
              error: new AtelierError('AUTH_REQUIRED', 'Sign in, or use a signed download URL.'),
              requestId: req.id,
            }),
          );
        }
        file = await fileOf(kind, req.params.id, user.id);
      }
      let key: string;
      let format: string;
      let etag: string;
      if (file.kind === 'images') {
        const image = file.record;
        [key, format, etag] = [image.storageKey, image.format, image.sha256];
      } else {
        ({ key, format, etag } = await file.record.resultFile(kind === 'jobs-hd' ? 'hd' : 'standard'));
      }
      const quoted = `"${etag}"`;
      reply.header('etag', quoted).header('cache-control', 'private, max-age=31536000, immutable');
      if (req.headers['if-none-match'] === quoted) return reply.code(304).send();
      const { body, bytes } = await files.stream(key);
      return reply
        .header('content-length', bytes)
        .type(CONTENT_TYPES[format as InputFormat] ?? 'application/octet-stream')
        .send(body);
    } catch (cause) {
      // As tRPC answers the same error: a lost database is a 503, anything uncoded an INTERNAL.
      const error = toTRPCError(cause);
      return reply.code(getHTTPStatusCodeFromError(error)).send(
        errorBody('plain', {
          error: atelierCause(error) ?? new AtelierError('INTERNAL', error.message),
          requestId: req.id,
        }),
      );
    }
  };

  app.get<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>(
    '/files/images/:id',
    (req, reply) => download(req, reply, 'images'),
  );
  app.get<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>(
    '/files/jobs/:id',
    (req, reply) => download(req, reply, 'jobs'),
  );
  app.get<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>(
    '/files/jobs/:id/hd',
    (req, reply) => download(req, reply, 'jobs-hd'),
  );
}
