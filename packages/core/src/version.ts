/** The engine's version: plugins declare the range of it they support. */
export const ENGINE_VERSION = '1.0.0';
