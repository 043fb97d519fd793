// Type tests of the client's public surface: `tsc -p .` checks them (a `@ts-expect-error` that
// stops failing is itself an error); at run time they only call no-op assertions. The styles'
// parameters come from each plugin's own zod schema (cartoon: packages/plugins/src/styles/
// cartoon.plugin.ts), so a renamed or retyped parameter fails here before it fails a frontend.
import type { TRPCClientError } from '@trpc/client';
import { EventSource as NodeEventSource } from 'eventsource';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  AppRouter,
  AtelierClient,
  AtelierInputs,
  AtelierOutputs,
  EventSourceConstructor,
} from './index.ts';

type CreateJob = AtelierInputs['jobs']['create'];
type CartoonJob = Extract<CreateJob, { style: 'cartoon' }>;
type Create = AtelierClient['jobs']['create']['mutate'];
const imageId = '6f1c1d2e-0000-4000-8000-000000000000';

describe('jobs.create', () => {
  it("takes each style's own parameters", () => {
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'cartoon' });
    expectTypeOf<Create>().toBeCallableWith({
      imageId,
      style: 'cartoon',
      params: { smoothing: 0.4, levels: 6, edgeStrength: 0.8, edgeThickness: 3, saturation: 1.1 },
      output: { format: 'png' },
    });
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'sketch', params: { darkness: 0.5 } });
    expectTypeOf<Create>().toBeCallableWith({ imageId, plan: { steps: [{ plugin: 'acme:invert' }] } });
    expectTypeOf<keyof NonNullable<CartoonJob['params']>>().toEqualTypeOf<
      'smoothing' | 'levels' | 'edgeStrength' | 'edgeThickness' | 'saturation'
    >();
    expectTypeOf<NonNullable<CartoonJob['params']>['levels']>().toEqualTypeOf<number | undefined>();
  });

  it('refuses a parameter of the wrong name or type, and an unknown style', () => {
    // @ts-expect-error `levels` is a number
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'cartoon', params: { levels: '6' } });
    // @ts-expect-error `darkness` is sketch's parameter, not cartoon's
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'cartoon', params: { darkness: 0.5 } });
    // @ts-expect-error a misspelt name
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'cartoon', params: { edgeThicknes: 3 } });
    // @ts-expect-error there is no style 'nope'
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'nope' });
    // @ts-expect-error an image is needed
    expectTypeOf<Create>().toBeCallableWith({ style: 'cartoon' });
  });

  it('takes any other (scoped) style id with its params as a record, checked by the server', () => {
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'acme:invert', params: { amount: 0.5 } });
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'acme:invert' });
    // @ts-expect-error a built-in's id never falls to the untyped member: its params stay typed
    expectTypeOf<Create>().toBeCallableWith({ imageId, style: 'sketch', params: { levels: 6 } });
  });
});

describe('outputs', () => {
  it('images.uploadMany answers one result per file: the image, or a coded error', () => {
    type Result = AtelierOutputs['images']['uploadMany']['results'][number];
    expectTypeOf<Extract<Result, { ok: true }>['image']>().toEqualTypeOf<
      AtelierOutputs['images']['upload']
    >();
    expectTypeOf<Extract<Result, { ok: false }>['error']['code']>().toEqualTypeOf<string>();
    expectTypeOf<Result['index']>().toEqualTypeOf<number>();
    expectTypeOf<Result['name']>().toEqualTypeOf<string | null>();
  });

  it('users.quota has the limits and the usage by name, and admins set a quota per field', () => {
    type Quota = AtelierOutputs['users']['quota'];
    expectTypeOf<keyof Quota['limits']>().toEqualTypeOf<
      'storedBytes' | 'jobsPerHour' | 'previewsPerMinute' | 'costPerMinute'
    >();
    expectTypeOf<Quota['usage']['costLastMinute']>().toEqualTypeOf<number>();
    type SetQuota = AtelierClient['admin']['setUserQuota']['mutate'];
    expectTypeOf<SetQuota>().toBeCallableWith({ id: imageId, jobsPerHour: 10, storedBytes: null });
    // @ts-expect-error a quota is a number (or null to clear it)
    expectTypeOf<SetQuota>().toBeCallableWith({ id: imageId, jobsPerHour: '10' });
  });

  it('jobs.get has the status as a union of the statuses', () => {
    expectTypeOf<AtelierOutputs['jobs']['get']['status']>().toEqualTypeOf<
      'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'
    >();
    expectTypeOf<AtelierOutputs['jobs']['get']['progress']>().toEqualTypeOf<number>();
  });

  it('styles.list items have their JSON Schema and defaults', () => {
    type Style = AtelierOutputs['styles']['list'][number];
    expectTypeOf<Style>().toHaveProperty('paramsSchema');
    expectTypeOf<Style['paramsSchema']>().toExtend<Record<string, unknown>>();
    expectTypeOf<Style['id']>().toEqualTypeOf<string>();
  });

  it('jobs.onUpdate streams job events with an id to resume from', () => {
    type Event = AtelierOutputs['jobs']['onUpdate'] extends AsyncIterable<infer E> ? E : never;
    expectTypeOf<Event['id']>().toEqualTypeOf<string>();
    expectTypeOf<Event['data']['status']>().toEqualTypeOf<AtelierOutputs['jobs']['get']['status']>();
  });
});

describe('errors', () => {
  it('carry the tRPC code and the Atelier code', () => {
    type Data = NonNullable<TRPCClientError<AppRouter>['data']>;
    expectTypeOf<Data['code']>().toExtend<string>();
    expectTypeOf<'PARAMS_INVALID'>().toExtend<Data['atelierCode']>();
    // Every error the API sends has one (input validation, unknown procedures and internal errors too).
    expectTypeOf<null>().not.toExtend<Data['atelierCode']>();
    expectTypeOf<'NOT_A_CODE'>().not.toExtend<Data['atelierCode']>();
  });
});

describe('options', () => {
  it("accept the `eventsource` package's EventSource on Node", () => {
    expectTypeOf(NodeEventSource).toExtend<EventSourceConstructor>();
  });
});
