import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { describe, expect, it } from 'vitest';
import { AtelierError, ERROR_CODES } from '@atelier/core';
import type { ErrorCode } from '@atelier/core';
import { atelierCodeOfTrpc, toTRPCError, trpcCodeOfStatus } from './errors.ts';

describe('toTRPCError', () => {
  it('answers every Atelier code with the HTTP status its table gives', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const error = toTRPCError(new AtelierError(code, 'x'));
      expect([code, getHTTPStatusCodeFromError(error)]).toEqual([code, ERROR_CODES[code].status]);
    }
  });
});

/** The rows of the first Markdown table after `heading` in a doc, as cells. */
async function tableAfter(doc: string, heading: string): Promise<string[][]> {
  const text = await readFile(fileURLToPath(new URL(`../../../../docs/${doc}`, import.meta.url)), 'utf8');
  const from = text.indexOf(`\n${heading}\n`);
  expect(from, `${doc} has "${heading}"`).toBeGreaterThan(-1);
  const lines = text.slice(from).split('\n');
  const start = lines.findIndex((line) => line.startsWith('|'));
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  return lines.slice(start + 2, end).map((line) =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );
}

/** Every `CODE` in backticks in a piece of Markdown. */
const codesIn = (text: string): string[] => [...text.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);

const TRPC_CODES = new Set(Object.keys(TRPC_ERROR_CODES_BY_KEY));

describe('the documented error codes', () => {
  it('are every code of ERROR_CODES, and only those (cli.md, auth.md and api.md tables)', async () => {
    // The column of codes: the first in cli.md and auth.md, the third (after HTTP and tRPC) in api.md.
    const cells = [
      ...(await tableAfter('cli.md', '## Error codes')).map((row) => row[0]!),
      ...(await tableAfter('auth.md', '## Errors')).map((row) => row[0]!),
      ...(await tableAfter('api.md', '## Errors')).map((row) => row[2]!),
    ];
    const documented = new Set(
      cells.flatMap(codesIn).filter((code) => !TRPC_CODES.has(code) || code in ERROR_CODES),
    );
    const unknown = [...documented].filter((code) => !(code in ERROR_CODES));
    const missing = Object.keys(ERROR_CODES).filter((code) => !documented.has(code));
    expect({ unknown, missing }).toEqual({ unknown: [], missing: [] });
  });

  it("api.md's table gives each code its status and tRPC code, as the server answers them", async () => {
    for (const [http, trpc, atelier] of await tableAfter('api.md', '## Errors')) {
      const status = Number(http);
      expect([http, trpc]).toEqual([http, `\`${trpcCodeOfStatus(status)}\``]);
      for (const code of codesIn(atelier!))
        expect([code, ERROR_CODES[code as ErrorCode]?.status]).toEqual([code, status]);
    }
  });

  it("openapi.md's list of `code`s names every status an Atelier code has, each with its tRPC code", async () => {
    const text = await readFile(
      fileURLToPath(new URL('../../../../docs/openapi.md', import.meta.url)),
      'utf8',
    );
    const item = text.slice(text.indexOf('- `code` is the class of error'), text.indexOf('- `issues`'));
    const listed = new Map([...item.matchAll(/`([A-Z_]+)`\s+(\d{3})/g)].map((m) => [Number(m[2]), m[1]!]));
    for (const status of new Set(Object.values(ERROR_CODES).map((c) => c.status)))
      expect([status, listed.get(status)]).toEqual([status, trpcCodeOfStatus(status)]);
  });

  it('every tRPC code has an Atelier code for errors tRPC raises itself', () => {
    for (const code of Object.keys(TRPC_ERROR_CODES_BY_KEY) as TRPC_ERROR_CODE_KEY[])
      expect(ERROR_CODES[atelierCodeOfTrpc(code)]).toBeDefined();
  });
});
