import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AtelierError } from '@atelier/core';
import { readConfig, withDevFlag } from './config.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** The error readConfig throws for `env`; fails the test when it accepts it. */
function refusal(env: NodeJS.ProcessEnv): AtelierError {
  try {
    readConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(AtelierError);
    return e as AtelierError;
  }
  throw new Error(`readConfig accepted ${JSON.stringify(env)}`);
}

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
      const error = refusal(env);
      expect(error.code).toBe('PARAMS_INVALID');
      expect(error.message).toMatch(/ATELIER_WEB/);
    }
  });
});

describe('readConfig: warm-up', () => {
  it('warms the engine up by default; ATELIER_WARMUP=off turns it off, anything but on or off is refused', () => {
    expect(readConfig({}).warmUp).toBe(true);
    expect(readConfig({ ATELIER_WARMUP: 'on' }).warmUp).toBe(true);
    expect(readConfig({ ATELIER_WARMUP: ' Off ' }).warmUp).toBe(false);
    for (const value of ['0', 'no', '']) {
      const error = refusal({ ATELIER_WARMUP: value });
      expect(error.code).toBe('PARAMS_INVALID');
      expect(error.message).toMatch(/ATELIER_WARMUP/);
    }
  });
});

describe('readConfig: SIMD kernels', () => {
  it('takes ATELIER_SIMD on or off (the engine threads read it), and refuses anything else', () => {
    expect(() => readConfig({ ATELIER_SIMD: ' OFF ' })).not.toThrow();
    expect(() => readConfig({ ATELIER_SIMD: 'on' })).not.toThrow();
    for (const value of ['of', '0', '']) {
      const error = refusal({ ATELIER_SIMD: value });
      expect(error.code).toBe('PARAMS_INVALID');
      expect(error.message).toMatch(/ATELIER_SIMD/);
    }
  });
});

describe('readConfig: band threads', () => {
  it('takes ATELIER_BAND_THREADS from 0 (off) up, and refuses a negative or fractional count', () => {
    expect(readConfig({ ATELIER_BAND_THREADS: '0' }).bandThreads).toBe(0);
    expect(readConfig({ ATELIER_BAND_THREADS: '3' }).bandThreads).toBe(3);
    expect(readConfig({}).bandThreads).toBeUndefined();
    for (const value of ['-1', '1.5', 'many']) {
      expect(() => readConfig({ ATELIER_BAND_THREADS: value })).toThrow(/ATELIER_BAND_THREADS/);
    }
  });
});

describe('readConfig: payments', () => {
  const keys = { STRIPE_SECRET_KEY: 'sk_test_abc12345', STRIPE_WEBHOOK_SECRET: 'whsec_abc12345' };
  it('is off without keys, with the default price and free size', () => {
    expect(readConfig({}).payments).toEqual({
      secretKey: undefined,
      webhookSecret: undefined,
      price: { amount: 199, currency: 'usd' },
      freeMaxSide: 1024,
      apiUrl: undefined,
    });
  });

  it('reads both keys, the price (currency lower-cased), the free size and the API URL', () => {
    for (const key of ['sk_test_abc12345', 'sk_live_abc12345', 'rk_test_abc12345', 'rk_live_a_b_c_1234'])
      expect(readConfig({ ...keys, STRIPE_SECRET_KEY: key }).payments.secretKey).toBe(key);
    expect(
      readConfig({
        ...keys,
        ATELIER_HD_PRICE: ' 500   EUR ',
        ATELIER_FREE_MAX_SIDE: '256',
        ATELIER_STRIPE_API_URL: 'http://127.0.0.1:12111',
      }).payments,
    ).toEqual({
      ...{ secretKey: keys.STRIPE_SECRET_KEY, webhookSecret: keys.STRIPE_WEBHOOK_SECRET },
      price: { amount: 500, currency: 'eur' },
      freeMaxSide: 256,
      apiUrl: 'http://127.0.0.1:12111',
    });
  });

  it('needs both secrets or neither (PAYMENTS_CONFIG_INVALID)', () => {
    const withoutWebhook = refusal({ STRIPE_SECRET_KEY: keys.STRIPE_SECRET_KEY });
    expect(withoutWebhook.code).toBe('PAYMENTS_CONFIG_INVALID');
    expect(withoutWebhook.message).toMatch(/STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not/);
    const withoutKey = refusal({ STRIPE_WEBHOOK_SECRET: keys.STRIPE_WEBHOOK_SECRET });
    expect(withoutKey.code).toBe('PAYMENTS_CONFIG_INVALID');
    expect(withoutKey.message).toMatch(/STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not/);
  });

  it('refuses malformed payment variables with PAYMENTS_CONFIG_INVALID naming the variable', () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ ...keys, STRIPE_SECRET_KEY: 'pk_test_abc12345' }, 'STRIPE_SECRET_KEY'], // a publishable key
      [{ ...keys, STRIPE_SECRET_KEY: 'sk_abc12345' }, 'STRIPE_SECRET_KEY'],
      [{ ...keys, STRIPE_SECRET_KEY: 'sk_test_' }, 'STRIPE_SECRET_KEY'],
      [{ ...keys, STRIPE_WEBHOOK_SECRET: 'abc12345' }, 'STRIPE_WEBHOOK_SECRET'],
      [{ ...keys, ATELIER_HD_PRICE: '1.99 usd' }, 'ATELIER_HD_PRICE'],
      [{ ...keys, ATELIER_HD_PRICE: '199' }, 'ATELIER_HD_PRICE'],
      [{ ...keys, ATELIER_HD_PRICE: '0 usd' }, 'ATELIER_HD_PRICE'],
      [{ ...keys, ATELIER_HD_PRICE: '199 dollars' }, 'ATELIER_HD_PRICE'],
      [{ ...keys, ATELIER_FREE_MAX_SIDE: '10' }, 'ATELIER_FREE_MAX_SIDE'],
      [{ ...keys, ATELIER_FREE_MAX_SIDE: 'big' }, 'ATELIER_FREE_MAX_SIDE'],
      [{ ...keys, ATELIER_STRIPE_API_URL: 'http://127.0.0.1:12111/v1' }, 'ATELIER_STRIPE_API_URL'],
    ];
    for (const [env, variable] of cases) {
      const error = refusal(env);
      expect(error.code, JSON.stringify(env)).toBe('PAYMENTS_CONFIG_INVALID');
      expect(error.message, JSON.stringify(env)).toContain(variable);
    }
    // Another variable wrong as well: the general code.
    expect(refusal({ ...keys, ATELIER_HD_PRICE: 'x', ATELIER_WEB: 'no' }).code).toBe('PARAMS_INVALID');
  });
});

describe('readConfig: the plugins folder and development mode', () => {
  it('puts the plugins folder in the data directory unless ATELIER_PLUGINS_FOLDER says otherwise', () => {
    expect(readConfig({}, '/srv/a').pluginsFolder).toBe('/srv/a/.atelier/plugins');
    expect(readConfig({ ATELIER_DATA_DIR: '/var/lib/atelier' }, '/srv/a').pluginsFolder).toBe(
      '/var/lib/atelier/plugins',
    );
    expect(readConfig({ ATELIER_PLUGINS_FOLDER: 'deploy/plugins' }, '/srv/a').pluginsFolder).toBe(
      '/srv/a/deploy/plugins',
    );
  });

  it('turns development mode on with ATELIER_DEV=1 or a --dev flag', () => {
    expect(readConfig({}).dev).toBe(false);
    expect(readConfig({ ATELIER_DEV: '1' }).dev).toBe(true);
    expect(readConfig({ ATELIER_DEV: 'true' }).dev).toBe(true);
    expect(withDevFlag(readConfig({}), true).dev).toBe(true);
    expect(withDevFlag(readConfig({}), undefined).dev).toBe(false);
    expect(() => readConfig({ ATELIER_DEV: 'yes' })).toThrow(/ATELIER_DEV/);
  });
});

describe('readConfig: ATELIER_SECRETS_KEY', () => {
  it('takes 32 bytes as base64 or hex, unset when empty', () => {
    const hex = 'ab'.repeat(32);
    expect(readConfig({ ATELIER_SECRETS_KEY: hex }).secretsKey).toBe(hex);
    const b64 = Buffer.alloc(32, 7).toString('base64');
    expect(readConfig({ ATELIER_SECRETS_KEY: b64 }).secretsKey).toBe(b64);
    expect(readConfig({}).secretsKey).toBeUndefined();
    expect(readConfig({ ATELIER_SECRETS_KEY: '' }).secretsKey).toBeUndefined();
  });

  it('refuses anything else with SECRETS_KEY_MISSING, without echoing the value', () => {
    for (const bad of ['secret', 'ab'.repeat(31), Buffer.alloc(16).toString('base64')]) {
      let error: unknown;
      try {
        readConfig({ ATELIER_SECRETS_KEY: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AtelierError);
      expect((error as AtelierError).code).toBe('SECRETS_KEY_MISSING');
      expect((error as AtelierError).message).toContain('ATELIER_SECRETS_KEY');
      expect((error as AtelierError).message).not.toContain(bad);
    }
  });
});
