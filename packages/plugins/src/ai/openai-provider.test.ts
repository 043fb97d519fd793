import { describe, expect, it } from 'vitest';
import {
  CHAT_MODEL_PRICES,
  IMAGE_MODEL_PRICES,
  cleanMessage,
  endpoint,
  fromBase64,
  priceOf,
  retryAfterMs,
  toBase64,
  tokens,
} from './openai-provider.ts';

describe('base64 without Buffer', () => {
  it('encodes and decodes as Node does, for every length remainder and all byte values', () => {
    const all = Uint8Array.from({ length: 256 * 3 + 2 }, (_, i) => (i * 7 + (i >> 8)) & 255);
    for (const n of [0, 1, 2, 3, 4, 5, 100, all.length]) {
      const bytes = all.subarray(0, n);
      const encoded = toBase64(bytes);
      expect(encoded).toBe(Buffer.from(bytes).toString('base64'));
      expect(fromBase64(encoded)).toEqual(new Uint8Array(bytes));
    }
    expect(fromBase64('aGVs\nbG8=')).toEqual(new TextEncoder().encode('hello'));
  });

  it('refuses what is not base64', () => {
    expect(fromBase64('not base64!')).toBeUndefined();
    expect(fromBase64('abcde')).toBeUndefined();
  });
});

describe('cleanMessage', () => {
  it('removes the key, anything shaped like one and bearer tokens, on one short line', () => {
    const key = 'sk-proj-abcdefghijklmnop';
    expect(cleanMessage(`Incorrect API key provided: ${key}.`, key)).toBe(
      'Incorrect API key provided: [redacted].',
    );
    expect(cleanMessage('Incorrect API key provided: sk-proj-****mnop.', key)).toBe(
      'Incorrect API key provided: [redacted].',
    );
    expect(cleanMessage('header was Bearer xyz123\nand more', 'unrelated-key')).toBe(
      'header was Bearer [redacted] and more',
    );
    expect(cleanMessage(`a custom key ${'k3y-without-prefix'} echoed`, 'k3y-without-prefix')).toBe(
      'a custom key [redacted] echoed',
    );
    expect(cleanMessage('x'.repeat(500), key)).toHaveLength(300);
  });
});

describe('retryAfterMs', () => {
  it('reads retry-after-ms, seconds and HTTP dates; ignores junk', () => {
    expect(retryAfterMs({ 'retry-after-ms': '250' })).toBe(250);
    expect(retryAfterMs({ 'retry-after': '2' })).toBe(2000);
    expect(retryAfterMs({ 'retry-after': '0' })).toBe(0);
    const inFive = new Date(Date.now() + 5000).toUTCString();
    expect(retryAfterMs({ 'retry-after': inFive })).toBeGreaterThan(3000);
    expect(retryAfterMs({ 'retry-after': inFive })).toBeLessThanOrEqual(5000);
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterMs({})).toBeUndefined();
  });
});

describe('prices', () => {
  it("take the table's price, or the parameters' over it, or none for an unknown model", () => {
    expect(priceOf(IMAGE_MODEL_PRICES, 'gpt-image-1.5', {})).toEqual({ input: 5, imageInput: 8, output: 32 });
    expect(priceOf(CHAT_MODEL_PRICES, 'gpt-5-mini', { outputPrice: 3 })).toEqual({
      input: 0.25,
      imageInput: 0.25,
      output: 3,
    });
    expect(priceOf(CHAT_MODEL_PRICES, 'acme-vision', {})).toBeUndefined();
    expect(priceOf(CHAT_MODEL_PRICES, 'acme-vision', { inputPrice: 1, outputPrice: 2 })).toEqual({
      input: 1,
      imageInput: 1,
      output: 2,
    });
  });

  it('count only finite, positive token numbers', () => {
    expect([tokens(12.7), tokens(-1), tokens('5'), tokens(Number.NaN), tokens(undefined)]).toEqual([
      12, 0, 0, 0, 0,
    ]);
  });
});

it('joins a base URL and a path without a double slash', () => {
  expect(endpoint('https://api.openai.com/', '/v1/images/edits')).toBe(
    'https://api.openai.com/v1/images/edits',
  );
  expect(endpoint('http://127.0.0.1:8080', '/v1/chat/completions')).toBe(
    'http://127.0.0.1:8080/v1/chat/completions',
  );
});
