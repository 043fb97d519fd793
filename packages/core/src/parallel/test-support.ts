// For tests of band kernels: runners that split the work as several threads would, in this one.
import { bandStart } from './bands.ts';
import type { BandRunner } from './bands.ts';

/**
 * A runner that claims `threads` threads and runs the bands last to first in this thread: a
 * kernel whose result depends on where its bands start, or on their order, gives other bytes.
 */
export function backwardsRunner(threads: number): BandRunner {
  return {
    threads,
    run(kernel, args, size, count) {
      for (let band = count - 1; band >= 0; band--)
        kernel.run(args, bandStart(band, count, size), bandStart(band + 1, count, size), {
          throwIfAborted() {},
        });
    },
  };
}
