import { AtelierError, MAX_CAPTION_CHARS, MAX_TAG_CHARS, definePlugin, fitLongSide, z } from '@atelier/core';
import type { PluginContext, RawImage } from '@atelier/core';
import {
  CHAT_MODEL_PRICES,
  OPENAI_HOST,
  OPENAI_SECRET,
  callProvider,
  endpoint,
  priceOf,
  providerParams,
  toBase64,
  tokens,
} from './openai-provider.ts';

/** The parameters of {@link openaiDescribe}. */
const openaiDescribeParams = z.object({
  model: z.string().min(1).max(100).default('gpt-5-mini').describe('A chat model that reads images.'),
  maxSide: z
    .number()
    .int()
    .min(64)
    .max(2048)
    .default(768)
    .describe('The image is sent as a JPEG at most this many pixels on its long side.'),
  detail: z
    .enum(['low', 'high', 'auto'])
    .default('low')
    .describe("How closely the model looks (OpenAI's image_url detail; high costs more tokens)."),
  maxTags: z.number().int().min(1).max(50).default(15).describe('Most tags to keep.'),
  instructions: z
    .string()
    .max(2000)
    .default('')
    .describe('Extra instructions for the model, e.g. "Name the city if you recognise it."'),
  ...providerParams,
});

/** Per attempt. */
const CHAT_TIMEOUT_MS = 60_000;

const SYSTEM_PROMPT =
  'You describe photos for a searchable gallery. Answer with JSON only: {"caption": one plain sentence of at most 200 characters saying what the image shows, "tags": 5 to 15 short lower-case tags (objects, scene, colours, mood), most relevant first}.';

/** The JSON schema the model must answer with (OpenAI structured outputs). */
const ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    caption: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['caption', 'tags'],
  additionalProperties: false,
} as const;

const answerSchema = z.object({ caption: z.string(), tags: z.array(z.string()) });

/**
 * The `openai-describe` analysis plugin: sends a downscaled JPEG of the image to an
 * OpenAI-compatible `POST {baseUrl}/v1/chat/completions`, asks for `{ caption, tags }` as JSON,
 * checks the answer and records it with `ctx.annotate` (stored with the job's image when the job
 * succeeds); the image itself passes through unchanged. Same grants, retries, error codes and
 * cost estimate as `openai-image` (docs/plugins.md, "AI-provider plugins").
 *
 * @example
 * { "style": "openai-describe", "params": { "maxTags": 10 } }
 */
export const openaiDescribe = openaiDescribePlugin();

/**
 * Makes an `openai-describe` plugin under another id that declares other hosts (see
 * {@link openaiImagePlugin}).
 *
 * @example
 * export default openaiDescribePlugin({ id: 'acme:gateway-describe', hosts: ['llm.gateway.example.com'] });
 */
export function openaiDescribePlugin<const Id extends string = 'openai-describe'>(
  options: { readonly id?: Id; readonly hosts?: readonly string[] } = {},
) {
  return definePlugin({
    id: (options.id ?? 'openai-describe') as Id,
    name: 'OpenAI describe',
    description:
      'Finds a caption and tags for the image with an OpenAI-compatible vision model (needs an API key).',
    version: '1.0.0',
    engine: '^1',
    kind: 'analysis',
    tags: ['ai', 'search'],
    capabilities: { network: [...(options.hosts ?? [OPENAI_HOST])], secrets: [OPENAI_SECRET] },
    params: openaiDescribeParams,
    async apply(ctx): Promise<RawImage> {
      const { image, params } = ctx;
      const key = ctx.secret(OPENAI_SECRET);
      const size = fitLongSide(image.width, image.height, params.maxSide);
      const jpeg = await ctx
        .sharp()
        .resize(size.width, size.height, { fit: 'fill' })
        .jpeg({ quality: 85 })
        .toBuffer();
      const text = params.instructions
        ? `Describe this image. ${params.instructions}`
        : 'Describe this image.';
      const answer = await callProvider(
        ctx,
        {
          url: endpoint(params.baseUrl, '/v1/chat/completions'),
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: params.model,
            messages: [
              { role: 'system', content: SYSTEM_PROMPT },
              {
                role: 'user',
                content: [
                  { type: 'text', text },
                  {
                    type: 'image_url',
                    image_url: {
                      url: `data:image/jpeg;base64,${toBase64(jpeg)}`,
                      detail: params.detail,
                    },
                  },
                ],
              },
            ],
            response_format: {
              type: 'json_schema',
              json_schema: { name: 'image_annotation', strict: true, schema: ANSWER_SCHEMA },
            },
            max_completion_tokens: 2000,
          }),
          attempts: params.attempts,
          timeoutMs: CHAT_TIMEOUT_MS,
          what: 'image description',
        },
        key,
      );
      reportUsage(ctx, params, answer);
      const { caption, tags } = annotationOf(answer, params.maxTags);
      ctx.annotate({ caption, tags });
      return image;
    },
  });
}

/** The checked `{ caption, tags }` of a chat answer, cut to the stored limits. */
function annotationOf(answer: unknown, maxTags: number): { caption: string; tags: string[] } {
  const choices = (answer as { choices?: unknown } | null)?.choices;
  const message = (Array.isArray(choices) ? (choices[0] as { message?: unknown } | undefined) : undefined)
    ?.message as { content?: unknown; refusal?: unknown } | undefined;
  if (typeof message?.refusal === 'string' && message.refusal !== '') {
    throw new AtelierError(
      'PROVIDER_REJECTED',
      `The model refused to describe the image: ${message.refusal.slice(0, 300)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = typeof message?.content === 'string' ? JSON.parse(message.content) : undefined;
  } catch {
    parsed = undefined;
  }
  const checked = answerSchema.safeParse(parsed);
  if (!checked.success) {
    throw new AtelierError(
      'PROVIDER_BAD_RESPONSE',
      'The model did not answer with the JSON asked for ({ "caption": string, "tags": string[] }).',
    );
  }
  const caption = checked.data.caption.trim().slice(0, MAX_CAPTION_CHARS);
  const tags = checked.data.tags
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '' && t.length <= MAX_TAG_CHARS)
    .filter((t, i, all) => all.indexOf(t) === i)
    .slice(0, maxTags);
  if (caption === '' && tags.length === 0)
    throw new AtelierError('PROVIDER_BAD_RESPONSE', 'The model answered with neither a caption nor tags.');
  return { caption, tags };
}

function reportUsage(
  ctx: PluginContext<z.output<typeof openaiDescribeParams>>,
  params: z.output<typeof openaiDescribeParams>,
  answer: unknown,
): void {
  const usage = (answer as { usage?: Record<string, unknown> } | null)?.usage;
  const price = priceOf(CHAT_MODEL_PRICES, params.model, params);
  if (!usage || typeof usage !== 'object' || !price) {
    ctx.logger.warn('no cost estimate for this description', {
      model: params.model,
      reason: price ? 'the answer has no usage' : 'no price for the model: pass inputPrice and outputPrice',
    });
    return;
  }
  const input = tokens(usage['prompt_tokens']);
  const output = tokens(usage['completion_tokens']);
  ctx.reportCost({
    // Rounded to a billionth of a dollar: a small call costs fractions of a cent.
    amount: Math.round((input * price.input + output * price.output) * 1e3) / 1e9,
    currency: 'USD',
    detail: `${params.model}: ${input} input tokens, ${output} output tokens (estimate)`,
  });
}
