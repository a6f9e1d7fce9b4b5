/**
 * Keras's mixed precision (keras.mixed_precision): the dtype policy a model
 * computes with. 'mixed_bfloat16' runs the wide matrix products of Dense
 * layers in bfloat16 with float32 sums, on CPUs with AMX-BF16 (Intel Xeon
 * from Sapphire Rapids on) or an AVX512_BF16 that outruns their float32
 * FMAs (AMD Zen 4 and later; not Intel's), keeping
 * weights, gradients and optimizer state in float32; 'float32' (the
 * default) computes everything in float32.
 */

import { FerroTypeError, FerroValueError } from './errors.js';
import { describe } from './validate.js';

/** The dtype policies ferro-nn computes with (Keras's names). */
export type DTypePolicyName = 'float32' | 'mixed_bfloat16';

/** Every policy ferro-nn accepts. */
export const DTYPE_POLICY_NAMES: readonly DTypePolicyName[] = ['float32', 'mixed_bfloat16'];

let current: DTypePolicyName = 'float32';
let warned = false;

/** `name` as a policy ferro-nn computes with, or ERR_FERRO_VALUE saying why not. */
export function checkPolicy(name: unknown, what = 'policy'): DTypePolicyName {
  if ((DTYPE_POLICY_NAMES as readonly unknown[]).includes(name)) return name as DTypePolicyName;
  if (typeof name !== 'string') {
    throw new FerroTypeError(`Expected ${what} to be one of ${DTYPE_POLICY_NAMES.join(', ')}. Received: ${describe(name)}`);
  }
  const why = name === 'mixed_float16' || name === 'float16' || name === 'bfloat16' ? ' (ferro-nn keeps float32 weights and computes float16 nowhere)' : '';
  throw new FerroValueError(`Expected ${what} to be one of ${DTYPE_POLICY_NAMES.join(', ')}. Received: '${name}'${why}`);
}

/**
 * Sets the policy of models created from now on, as Keras's
 * `set_global_policy` (a model keeps the policy it was created with).
 */
function setGlobalPolicy(policy: DTypePolicyName): void {
  current = checkPolicy(policy);
}

/** The policy new models get. */
function globalPolicy(): DTypePolicyName {
  return current;
}

/** Keras's `keras.mixed_precision`: `setGlobalPolicy('mixed_bfloat16')`, `globalPolicy()`. */
export const mixedPrecision = { setGlobalPolicy, globalPolicy } as const;

/** Once per process: a model asked for bfloat16 on a CPU without AMX or a fast AVX512_BF16. */
export function warnFloat32Fallback(): void {
  if (warned) return;
  warned = true;
  const why = 'this CPU has neither AMX nor an AVX512_BF16 that outruns its float32 FMAs (Intel cores without AMX; FERRO_NN_BF16=vdpbf16ps uses AVX512_BF16 anyway)';
  process.emitWarning(`mixed_bfloat16: ${why}, so ferro-nn computes in float32.`, {
    code: 'FERRO_NN_BF16_FALLBACK',
  });
}
