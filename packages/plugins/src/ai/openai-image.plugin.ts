import { AtelierError, definePlugin, isAtelierError, z } from '@atelier/core';
import type { PluginContext, RawImage, Sharp } from '@atelier/core';
import {
  IMAGE_MODEL_PRICES,
  OPENAI_HOST,
  OPENAI_SECRET,
  callProvider,
  endpoint,
  fromBase64,
  priceOf,
  providerParams,
  tokens,
} from './openai-provider.ts';

/** The parameters of {@link openaiImage}. */
const openaiImageParams = z.object({
  prompt: z
    .string()
    .trim()
    .min(1)
    .max(32_000)
    .default('Repaint this photo as a watercolour painting, keeping its composition.')
    .describe('What to make of the image, as the image-edit API takes it.'),
  model: z
    .string()
    .min(1)
    .max(100)
    .default('gpt-image-1.5')
    .describe('The image model. gpt-image-1 was shut down by OpenAI in October 2026.'),
  size: z
    .enum(['auto', '1024x1024', '1536x1024', '1024x1536'])
    .default('auto')
    .describe('The size the provider works at; the result is resized back to the input size.'),
  quality: z
    .enum(['auto', 'low', 'medium', 'high'])
    .default('auto')
    .describe('Rendering quality (and price).'),
  ...providerParams,
});

/** Per attempt: an image edit can take a minute or more at high quality. */
const EDIT_TIMEOUT_MS = 110_000;

/**
 * The `openai-image` style: sends the image (as PNG) and a prompt to an OpenAI-compatible
 * `POST {baseUrl}/v1/images/edits` and returns the provider's image, resized back to the input's
 * size. It needs two grants (docs/plugins.md, "AI-provider plugins"): the network host of
 * `baseUrl` and the secret `OPENAI_API_KEY`. It retries 429 and 5xx answers with backoff, maps
 * the provider's errors to `PROVIDER_*` codes and reports the estimated cost from the answer's
 * token usage.
 *
 * @example
 * { "style": "openai-image", "params": { "prompt": "Make it a pencil sketch", "quality": "low" } }
 */
export const openaiImage = openaiImagePlugin();

/**
 * Makes an `openai-image` plugin under another id that declares other hosts: the way to use an
 * OpenAI-compatible provider elsewhere (a gateway, Azure, a local server). A plugin may fetch only
 * hosts it declares and an administrator granted, so `baseUrl` alone never reaches a new host.
 *
 * @example
 * export default openaiImagePlugin({ id: 'acme:gateway-image', hosts: ['llm.gateway.example.com'] });
 */
export function openaiImagePlugin<const Id extends string = 'openai-image'>(
  options: { readonly id?: Id; readonly hosts?: readonly string[] } = {},
) {
  return definePlugin({
    id: (options.id ?? 'openai-image') as Id,
    name: 'OpenAI image edit',
    description:
      'Restyles the image with an OpenAI-compatible image-edit API from a prompt (needs an API key).',
    version: '1.0.0',
    engine: '^1',
    kind: 'style',
    tags: ['ai', 'generative'],
    capabilities: { network: [...(options.hosts ?? [OPENAI_HOST])], secrets: [OPENAI_SECRET] },
    params: openaiImageParams,
    async apply(ctx): Promise<Sharp> {
      const { image, params } = ctx;
      const key = ctx.secret(OPENAI_SECRET);
      const png = await ctx.sharp().png().toBuffer();
      const answer = await callProvider(
        ctx,
        {
          url: endpoint(params.baseUrl, '/v1/images/edits'),
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
          form: {
            image: { data: png, filename: 'image.png', contentType: 'image/png' },
            prompt: params.prompt,
            model: params.model,
            size: params.size,
            quality: params.quality,
            n: '1',
          },
          attempts: params.attempts,
          timeoutMs: EDIT_TIMEOUT_MS,
          what: 'image edit',
        },
        key,
      );
      ctx.progress(0.8);
      const { b64, usage } = imageOf(answer);
      reportUsage(ctx, params, usage);
      let edited: RawImage;
      try {
        const bytes = fromBase64(b64);
        if (!bytes) throw new AtelierError('IMAGE_CORRUPT', 'data[0].b64_json is not base64.');
        edited = await ctx.decode(bytes);
      } catch (error) {
        if (!isAtelierError(error) || !error.code.startsWith('IMAGE_')) throw error;
        throw new AtelierError(
          'PROVIDER_BAD_RESPONSE',
          `The provider's image cannot be used: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      // The provider works at its own sizes; the step keeps the input's (outputSize is not declared).
      let pipeline = ctx.sharp(edited).removeAlpha();
      if (edited.width !== image.width || edited.height !== image.height)
        pipeline = pipeline.resize(image.width, image.height, { fit: 'fill' });
      return pipeline;
    },
  });
}

/** `data[0].b64_json` and `usage` of an images answer; PROVIDER_BAD_RESPONSE without an image. */
function imageOf(answer: unknown): { b64: string; usage: Record<string, unknown> | undefined } {
  const data = (answer as { data?: unknown } | null)?.data;
  const first: unknown = Array.isArray(data) ? data[0] : undefined;
  const b64 = (first as { b64_json?: unknown } | undefined)?.b64_json;
  if (typeof b64 !== 'string' || b64.length === 0) {
    throw new AtelierError(
      'PROVIDER_BAD_RESPONSE',
      'The provider answered the image edit without an image (no data[0].b64_json).',
    );
  }
  const usage = (answer as { usage?: unknown }).usage;
  return {
    b64,
    usage: usage !== null && typeof usage === 'object' ? (usage as Record<string, unknown>) : undefined,
  };
}

function reportUsage(
  ctx: PluginContext<z.output<typeof openaiImageParams>>,
  params: z.output<typeof openaiImageParams>,
  usage: Record<string, unknown> | undefined,
): void {
  const price = priceOf(IMAGE_MODEL_PRICES, params.model, params);
  if (!usage || !price) {
    ctx.logger.warn('no cost estimate for this image edit', {
      model: params.model,
      reason: usage ? 'no price for the model: pass inputPrice and outputPrice' : 'the answer has no usage',
    });
    return;
  }
  const details = (usage['input_tokens_details'] ?? {}) as Record<string, unknown>;
  const input = tokens(usage['input_tokens']);
  const text = details['text_tokens'] === undefined ? 0 : tokens(details['text_tokens']);
  const imageIn = details['image_tokens'] === undefined ? input - text : tokens(details['image_tokens']);
  const output = tokens(usage['output_tokens']);
  const amount =
    (text * price.input + imageIn * (price.imageInput ?? price.input) + output * price.output) / 1e6;
  ctx.reportCost({
    amount: Math.round(amount * 1e9) / 1e9,
    currency: 'USD',
    detail: `${params.model}: ${text} text + ${imageIn} image input tokens, ${output} output tokens (estimate)`,
  });
}
