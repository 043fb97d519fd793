import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AtelierError } from '@atelier/core';
import { readConfig } from './config.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

describe('readConfig: the web app', () => {
  it('serves packages/web/dist of this checkout by default, wherever the process starts', () => {
    for (const cwd of ['/', '/tmp', repo]) {
      const { web } = readConfig({}, cwd);
      expect(web.enabled).toBe(true);
      expect(path.resolve(web.dir)).toBe(path.join(repo, 'packages/web/dist'));
    }
  });

  it('takes ATELIER_WEB_DIR relative to the working directory, and ATELIER_WEB=off', () => {
    expect(readConfig({ ATELIER_WEB_DIR: 'site/dist' }, '/srv/atelier').web).toEqual({
      enabled: true,
      dir: '/srv/atelier/site/dist',
    });
    expect(readConfig({ ATELIER_WEB_DIR: '/opt/web' }, '/srv').web.dir).toBe('/opt/web');
    expect(readConfig({ ATELIER_WEB: 'off' }).web.enabled).toBe(false);
    expect(readConfig({ ATELIER_WEB: ' OFF ' }).web.enabled).toBe(false);
    expect(readConfig({ ATELIER_WEB: 'on' }).web.enabled).toBe(true);
  });

  it('refuses anything else with PARAMS_INVALID naming the variable', () => {
    for (const env of [{ ATELIER_WEB: 'no' }, { ATELIER_WEB: 'false' }, { ATELIER_WEB_DIR: '' }]) {
      let error: unknown;
      try {
        readConfig(env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AtelierError);
      expect((error as AtelierError).code).toBe('PARAMS_INVALID');
      expect((error as AtelierError).message).toMatch(/ATELIER_WEB/);
    }
  });
});
