// Test entry of @atelier/jobs (`@atelier/jobs/testing`): for tests that drive pg-boss by hand
// (fetch and fail entries as a dead worker would, read its counts and workers). The application
// uses only `@atelier/jobs`, where the queue is a JobQueue and pg-boss stays out of sight.
export { bossOf } from './queue.ts';
export { SYNTHETIC_LARGE_OWNER, fillSyntheticGallery } from './synthetic-gallery.ts';
export type { SyntheticGalleryOptions } from './synthetic-gallery.ts';
