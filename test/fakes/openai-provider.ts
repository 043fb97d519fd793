// A loopback stand-in for an OpenAI-compatible provider, for the AI-provider plugin tests: a real
// HTTP server on 127.0.0.1 speaking the two endpoints the built-ins call.
//
//   POST /v1/images/edits       multipart (image, prompt, model, size, quality, ...): checks the
//                               bearer key, inverts the uploaded image and returns it as a PNG of
//                               `editSize` (as a provider returns 1024x1024 whatever it got), with
//                               token usage.
//   POST /v1/chat/completions   JSON with an image_url data URL: checks the key, decodes the image
//                               and answers { caption, tags } computed from its pixels, with usage.
//
// Failures are scripted per endpoint: `fail('edits', { status: 429, retryAfter: '0' }, ...)`
// makes the next requests fail in that order, then it answers normally again.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export type Endpoint = 'edits' | 'chat';

/** One scripted answer instead of the normal one. */
export type Failure =
  | { readonly status: number; readonly body?: unknown; readonly retryAfter?: string }
  /** 200 with a body that is not JSON. */
  | { readonly garbage: true }
  /** 200 JSON without an image (edits) or without parseable content (chat), with chat usage. */
  | { readonly empty: true }
  /** 200 with b64_json that is not an image. */
  | { readonly undecodable: true };

/** What the fake saw of one request. */
export interface SeenRequest {
  readonly endpoint: Endpoint;
  readonly authorized: boolean;
  /** Multipart text fields (edits) or the JSON body's top-level scalars (chat). */
  readonly fields: Readonly<Record<string, string>>;
  /** The uploaded (edits) or inlined (chat) image's size and format, when there was one. */
  readonly image?: { readonly width: number; readonly height: number; readonly format: string };
  /** The answer's status. */
  readonly status: number;
}

/** Token counts the fake reports, so tests can check the cost computed from them. */
export const FAKE_USAGE = {
  edits: { textTokens: 12, imageTokens: 388, outputTokens: 4160 },
  chat: { promptTokens: 842, completionTokens: 58 },
} as const;

export interface FakeProvider {
  /** `http://127.0.0.1:<port>`: pass it as the plugins' `baseUrl`. */
  readonly url: string;
  readonly requests: SeenRequest[];
  /** The size of the images /v1/images/edits returns. @default 1024x1024 */
  editSize: { width: number; height: number };
  fail(endpoint: Endpoint, ...failures: Failure[]): void;
  close(): Promise<void>;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    ...headers,
  });
  res.end(text);
}

function errorBody(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The dominant colour's name and the mean brightness, from the pixels. */
async function describePixels(bytes: Buffer): Promise<{ caption: string; tags: string[] }> {
  const { channels } = await sharp(bytes).stats();
  const [r, g, b] = channels.map((c) => c.mean);
  const colour = r! >= g! && r! >= b! ? 'red' : g! >= b! ? 'green' : 'blue';
  const light = (r! + g! + b!) / 3 > 128 ? 'bright' : 'dark';
  const meta = await sharp(bytes).metadata();
  return {
    caption: `A ${light} photo, mostly ${colour}, ${meta.width}x${meta.height} pixels as received.`,
    tags: [colour, light, 'Photo', 'photo'],
  };
}

/** Starts the fake on a free loopback port; `apiKey` is the only bearer token it accepts. */
export async function startFakeProvider(apiKey: string): Promise<FakeProvider> {
  const requests: SeenRequest[] = [];
  const scripts: Record<Endpoint, Failure[]> = { edits: [], chat: [] };
  const state = { editSize: { width: 1024, height: 1024 } };

  async function edits(req: IncomingMessage, res: ServerResponse, authorized: boolean): Promise<SeenRequest> {
    const body = await readBody(req);
    // The WHATWG Request parses multipart/form-data as a browser's server would.
    const form = await new Request('http://fake/v1/images/edits', {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? '' },
      body,
    }).formData();
    const fields: Record<string, string> = {};
    for (const [name, value] of form) if (typeof value === 'string') fields[name] = value;
    const file = form.get('image');
    const upload = file instanceof Blob ? Buffer.from(await file.arrayBuffer()) : undefined;
    const meta = upload ? await sharp(upload).metadata() : undefined;
    const image = meta ? { width: meta.width, height: meta.height, format: meta.format } : undefined;
    const seen = (status: number): SeenRequest => ({
      endpoint: 'edits',
      authorized,
      fields,
      status,
      ...(image ? { image } : {}),
    });
    const failure = authorized ? scripts.edits.shift() : undefined;
    if (!authorized) {
      // As OpenAI words it, but with the whole key: a test then proves the plugin never repeats it.
      send(
        res,
        401,
        errorBody(
          `Incorrect API key provided: ${String(req.headers.authorization)}.`,
          'invalid_request_error',
          'invalid_api_key',
        ),
      );
      return seen(401);
    }
    if (failure) return answerFailure(res, failure, seen);
    if (!upload || !fields['prompt']) {
      send(
        res,
        400,
        errorBody(
          "Missing required parameter: 'image' or 'prompt'.",
          'invalid_request_error',
          'missing_required_parameter',
        ),
      );
      return seen(400);
    }
    const png = await sharp(upload)
      .removeAlpha()
      .negate()
      .resize(state.editSize.width, state.editSize.height, { fit: 'fill' })
      .png()
      .toBuffer();
    const u = FAKE_USAGE.edits;
    send(res, 200, {
      created: Math.floor(Date.now() / 1000),
      data: [{ b64_json: png.toString('base64') }],
      usage: {
        input_tokens: u.textTokens + u.imageTokens,
        input_tokens_details: { text_tokens: u.textTokens, image_tokens: u.imageTokens },
        output_tokens: u.outputTokens,
        total_tokens: u.textTokens + u.imageTokens + u.outputTokens,
      },
    });
    return seen(200);
  }

  async function chat(req: IncomingMessage, res: ServerResponse, authorized: boolean): Promise<SeenRequest> {
    const text = (await readBody(req)).toString('utf8');
    let json: { model?: unknown; messages?: { content?: unknown }[] } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      send(
        res,
        400,
        errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null),
      );
      return { endpoint: 'chat', authorized, fields: {}, status: 400 };
    }
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(json))
      if (typeof v === 'string' || typeof v === 'number') fields[k] = String(v);
    const parts = (json.messages ?? []).flatMap((m) =>
      Array.isArray(m.content) ? (m.content as { type?: string; image_url?: { url?: string } }[]) : [],
    );
    const dataUrl = parts.find((p) => p.type === 'image_url')?.image_url?.url ?? '';
    const match = /^data:image\/(jpeg|png|webp);base64,(.+)$/.exec(dataUrl);
    const bytes = match ? Buffer.from(match[2]!, 'base64') : undefined;
    const meta = bytes
      ? await sharp(bytes)
          .metadata()
          .catch(() => undefined)
      : undefined;
    const image = meta ? { width: meta.width, height: meta.height, format: meta.format } : undefined;
    const seen = (status: number): SeenRequest => ({
      endpoint: 'chat',
      authorized,
      fields,
      status,
      ...(image ? { image } : {}),
    });
    if (!authorized) {
      send(
        res,
        401,
        errorBody(
          `Incorrect API key provided: ${String(req.headers.authorization)}.`,
          'invalid_request_error',
          'invalid_api_key',
        ),
      );
      return seen(401);
    }
    const failure = scripts.chat.shift();
    if (failure) return answerFailure(res, failure, seen);
    if (!bytes || !image) {
      send(res, 400, errorBody('Invalid image in messages.', 'invalid_request_error', 'invalid_image'));
      return seen(400);
    }
    const u = FAKE_USAGE.chat;
    send(res, 200, {
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      model: String(json.model ?? ''),
      choices: [
        {
          index: 0,
          finish_reason: 'stop',
          message: { role: 'assistant', content: JSON.stringify(await describePixels(bytes)) },
        },
      ],
      usage: {
        prompt_tokens: u.promptTokens,
        completion_tokens: u.completionTokens,
        total_tokens: u.promptTokens + u.completionTokens,
      },
    });
    return seen(200);
  }

  function answerFailure(
    res: ServerResponse,
    failure: Failure,
    seen: (status: number) => SeenRequest,
  ): SeenRequest {
    if ('garbage' in failure) {
      send(res, 200, '<html>upstream error</html>');
      return seen(200);
    }
    if ('empty' in failure) {
      // Billed (usage), but without what was asked for.
      send(res, 200, {
        created: 0,
        data: [],
        choices: [{ index: 0, message: { role: 'assistant', content: 'I cannot describe that.' } }],
        usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 },
      });
      return seen(200);
    }
    if ('undecodable' in failure) {
      send(res, 200, { created: 0, data: [{ b64_json: Buffer.from('not a png').toString('base64') }] });
      return seen(200);
    }
    send(
      res,
      failure.status,
      failure.body ?? errorBody(`Scripted ${failure.status}.`, 'server_error', null),
      failure.retryAfter === undefined ? {} : { 'retry-after': failure.retryAfter },
    );
    return seen(failure.status);
  }

  const server: Server = createServer((req, res) => {
    const authorized = req.headers.authorization === `Bearer ${apiKey}`;
    const path = (req.url ?? '').split('?')[0];
    const handler =
      req.method === 'POST' && path === '/v1/images/edits'
        ? edits
        : req.method === 'POST' && path === '/v1/chat/completions'
          ? chat
          : undefined;
    if (!handler) {
      send(
        res,
        404,
        errorBody(`Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url'),
      );
      return;
    }
    handler(req, res, authorized).then(
      (seen) => requests.push(seen),
      (error: unknown) => {
        if (!res.headersSent)
          send(res, 500, errorBody(`fake failed: ${String(error)}`, 'server_error', null));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get editSize() {
      return state.editSize;
    },
    set editSize(size) {
      state.editSize = size;
    },
    fail(endpoint, ...failures) {
      scripts[endpoint].push(...failures);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
