import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createOpenApiDocument } from '../openapi.ts';
import { restPlugin } from './rest.plugin.ts';

// Every request below is refused before a procedure runs: none may ask for a context.
async function app() {
  const server = Fastify({ requestIdHeader: 'x-request-id' });
  const document = createOpenApiDocument();
  await server.register(restPlugin, {
    createContext: () => Promise.reject(new Error('no context expected')),
    maxUploadBytes: 1000,
    maxBatchUploadBytes: 5000,
    document,
  });
  return { server, document };
}

const restError = (status: number, trpcCode: string, atelierCode: string, message: string) => ({
  message,
  code: trpcCode,
  data: { code: trpcCode, httpStatus: status, atelierCode, details: null, requestId: expect.any(String) },
});

describe('restPlugin', () => {
  it('serves the OpenAPI document and its docs page', async () => {
    const { server, document } = await app();
    const json = await server.inject('/openapi.json');
    expect(json.json()).toEqual(JSON.parse(JSON.stringify(document)));
    expect(Object.keys(json.json().paths)).toContain('/api/jobs');
    const docs = await server.inject('/docs/');
    expect([docs.statusCode, docs.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
  });

  it('answers an unknown route with PROCEDURE_NOT_FOUND naming it, in the REST error shape', async () => {
    const { server } = await app();
    const res = await server.inject({ url: '/api/nope?x=1', headers: { 'x-request-id': 'rest-1' } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual(
      restError(
        404,
        'NOT_FOUND',
        'PROCEDURE_NOT_FOUND',
        'No route is GET /api/nope; /openapi.json lists the routes.',
      ),
    );
    expect(res.json().data.requestId).toBe('rest-1');
  });

  it('refuses bodies before any procedure: wrong upload type, JSON over the cap, JSON that does not parse', async () => {
    const { server } = await app();
    const json = { 'content-type': 'application/json' };
    const upload = await server.inject({ method: 'POST', url: '/api/images', headers: json, payload: '{}' });
    expect(upload.statusCode).toBe(415);
    expect(upload.json()).toMatchObject(
      restError(415, 'UNSUPPORTED_MEDIA_TYPE', 'CONTENT_TYPE_UNSUPPORTED', expect.any(String)),
    );
    expect(upload.json().data.path).toBeNull();
    const big = await server.inject({
      method: 'POST',
      url: '/api/jobs',
      headers: json,
      payload: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({
      ...restError(413, 'PAYLOAD_TOO_LARGE', 'BODY_TOO_LARGE', expect.any(String)),
      data: expect.objectContaining({ details: { limitBytes: 1024 * 1024 } }),
    });
    const imageTooBig = await server.inject({
      method: 'POST',
      url: '/api/images',
      headers: { 'content-type': 'image/png' },
      payload: Buffer.alloc(1001),
    });
    expect([imageTooBig.statusCode, imageTooBig.json().data.atelierCode]).toEqual([413, 'IMAGE_TOO_LARGE']);
    // A batch upload has its own cap (plus 1 MiB for the form's parts), and its own code.
    const batchTooBig = await server.inject({
      method: 'POST',
      url: '/api/images/batch',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      payload: Buffer.alloc(5000 + 1024 * 1024 + 1),
    });
    expect([batchTooBig.statusCode, batchTooBig.json().data.atelierCode]).toEqual([
      413,
      'UPLOAD_BATCH_TOO_LARGE',
    ]);
    expect(batchTooBig.json().data.details).toEqual({ limitBytes: 5000, sizeBytes: 5000 + 1024 * 1024 + 1 });
    const batchJson = await server.inject({
      method: 'POST',
      url: '/api/images/batch',
      headers: json,
      payload: '{}',
    });
    expect([batchJson.statusCode, batchJson.json().data.atelierCode]).toEqual([
      415,
      'CONTENT_TYPE_UNSUPPORTED',
    ]);
    const broken = await server.inject({ method: 'POST', url: '/api/jobs', headers: json, payload: '{nope' });
    expect([broken.statusCode, broken.json().data.atelierCode]).toEqual([400, 'REQUEST_MALFORMED']);
  });
});
