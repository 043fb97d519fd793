/**
 * The engine's version: plugins declare the semver range of it they support (`engine: '^1'`). It
 * is also the version of the published `@atelier/core` package (a unit test keeps the two equal),
 * so a plugin's `@atelier/core` dependency range and its `engine` range say the same thing.
 */
export const ENGINE_VERSION = '1.0.0';
