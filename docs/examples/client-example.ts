// Paints a photo in watercolour through the Atelier API with @atelier/client, from Node.
//
//   node docs/examples/client-example.ts [photo] [result]
//
// ATELIER_URL is the server (default http://127.0.0.1:3000). With ATELIER_EMAIL and
// ATELIER_PASSWORD it logs in; without, it signs up a new user with a random address. The photo
// defaults to test/fixtures/images/chelsea.png, the result to ./result.jpg (the extension picks
// the format: .jpg, .png, .webp or .avif). test/client-example.test.ts runs it against a live server.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { createAtelierClient, isApiError, uploadForm } from '@atelier/client';
import type { AtelierClient, AtelierOutputs } from '@atelier/client';

type Job = AtelierOutputs['jobs']['get'];

const FORMATS = { '.jpg': 'jpeg', '.jpeg': 'jpeg', '.png': 'png', '.webp': 'webp', '.avif': 'avif' } as const;

const url = process.env['ATELIER_URL'] ?? 'http://127.0.0.1:3000';
const [photoArg, resultArg] = process.argv.slice(2);
const photo = photoArg ?? fileURLToPath(new URL('../../test/fixtures/images/chelsea.png', import.meta.url));
const result = path.resolve(resultArg ?? 'result.jpg');

async function main(): Promise<void> {
  const format = FORMATS[path.extname(result).toLowerCase() as keyof typeof FORMATS];
  if (!format) throw new Error(`${result}: name the result .jpg, .png, .webp or .avif`);

  // 1. A session: Node sends its token as `Authorization: Bearer` (a browser would use the cookie).
  const token = await signIn();
  const atelier = createAtelierClient({ url, token, EventSource });

  // 2. Upload.
  const bytes = await readFile(photo);
  const image = await atelier.images.upload.mutate(uploadForm(new Blob([bytes]), path.basename(photo)));
  console.log(`uploaded ${path.basename(photo)}: ${image.width}×${image.height} ${image.format}`);

  // 3. A watercolour job; its parameters are typed (try a wrong one).
  const created = await atelier.jobs.create.mutate({
    imageId: image.id,
    style: 'watercolor',
    params: { paper: 0.6 },
    output: { format },
  });
  console.log(`job ${created.id} ${created.status}`);

  // 4. Progress as it happens, until the job is finished.
  const job = await follow(atelier, created.id);
  if (job.status !== 'succeeded') {
    throw new Error(`the job ${job.status}${job.error ? `: ${job.error.message} (${job.error.code})` : ''}`);
  }

  // 5. Download the result with the same token.
  const response = await fetch(`${url}/files/jobs/${job.id}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`downloading the result: HTTP ${response.status}`);
  await writeFile(result, Buffer.from(await response.arrayBuffer()));
  console.log(`result: ${result} (${job.output?.width}×${job.output?.height} ${job.output?.format})`);
}

async function signIn(): Promise<string> {
  const anonymous = createAtelierClient({ url });
  const email = process.env['ATELIER_EMAIL'];
  const password = process.env['ATELIER_PASSWORD'];
  if (email && password) {
    const { token, user } = await anonymous.auth.login.mutate({ email, password });
    console.log(`logged in as ${user.email}`);
    return token;
  }
  const { token, user } = await anonymous.auth.register.mutate({
    email: `example-${randomUUID().slice(0, 8)}@example.org`,
    password: randomBytes(18).toString('base64url'),
    displayName: 'Client example',
  });
  console.log(`signed up as ${user.email}`);
  return token;
}

/** Prints each update of the job and resolves with the job once it has finished. */
function follow(atelier: AtelierClient, id: string): Promise<Job> {
  return new Promise((resolve, reject) => {
    const subscription = atelier.jobs.onUpdate.subscribe(
      { id },
      {
        onData: ({ data: event }) => {
          const bar = '#'.repeat(Math.round(event.progress * 20)).padEnd(20, '.');
          console.log(`${event.status.padEnd(9)} [${bar}] ${Math.round(event.progress * 100)}%`);
          if (event.status === 'succeeded' || event.status === 'failed' || event.status === 'cancelled') {
            subscription.unsubscribe();
            atelier.jobs.get.query({ id }).then(resolve, reject);
          }
        },
        onError: (error) => {
          subscription.unsubscribe();
          reject(error);
        },
      },
    );
  });
}

/** What went wrong, in a sentence: the API's message and code, or why the server is out of reach. */
function explain(error: unknown): string {
  if (isApiError(error)) {
    if (!error.data) {
      const cause =
        error.cause instanceof Error && error.cause.cause instanceof Error ? error.cause.cause : error.cause;
      const why = cause instanceof Error ? cause.message : error.message;
      return `cannot reach the Atelier API at ${url}: ${why}`;
    }
    return `${error.message} (${error.data.atelierCode ?? error.data.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

main().catch((error: unknown) => {
  console.error(`client-example: ${explain(error)}`);
  process.exitCode = 1;
});
