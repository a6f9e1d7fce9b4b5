/** Process-wide settings: random seed and thread count. */

import { native } from './errors.js';
import { binding } from './native.js';
import { checkInt } from './validate.js';

/**
 * Makes weight initialisation and shuffling reproducible, like
 * `keras.utils.set_random_seed`: the same program with the same seed gives
 * bit-identical weights, whatever the thread count.
 */
export function setRandomSeed(seed: number): void {
  checkInt(seed, 'seed', 0);
  native(() => binding.setRandomSeed(seed));
}

/** Threads for all native work (default: every core, or FERRO_NN_NUM_THREADS). */
export function setNumThreads(threads: number): void {
  checkInt(threads, 'threads', 1, 1024);
  native(() => binding.setNumThreads(threads));
}

/** Threads native work runs on now. */
export function getNumThreads(): number {
  return binding.getNumThreads();
}

/**
 * The instruction set the kernels use, chosen at run time from the CPU:
 * 'avx512', 'avx2+fma' or 'scalar'. FERRO_NN_ISA=scalar|avx2|avx512 caps it
 * and FERRO_NN_FORCE_SCALAR=1 forces the scalar path (set before loading).
 */
export function kernelIsa(): string {
  return binding.kernelIsa();
}
