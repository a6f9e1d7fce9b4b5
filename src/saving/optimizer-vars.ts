/**
 * A compiled model's optimizer variables in the order Keras 3 keeps them
 * (optimizer/vars in model.weights.h5): `iteration`, `learning_rate`
 * (absent when the rate follows a schedule), then each optimizer's slots
 * in its own order, checked against Keras 3.15.1's `optimizer.variables`:
 *   SGD       momentum of every tensor
 *   RMSprop   every velocity, then every momentum, then every average_gradient
 *   Adam(W)   momentum and velocity of each tensor in turn, then every velocity_hat
 *   Adagrad   every accumulator
 *   Nadam     momentum and velocity of each tensor in turn, then its u_product
 */

import { FerroValueError } from '../errors.js';
import type { OptimizerState, SlotState } from '../native.js';
import type { H5Var } from './h5.js';

/** The slots in Keras's order: [slot name, tensor index] pairs. */
function order(className: string, names: readonly string[], tensors: number): [string, number][] {
  const every = (name: string): [string, number][] => Array.from({ length: tensors }, (_, t) => [name, t]);
  const pairs = (a: string, b: string): [string, number][] =>
    Array.from({ length: tensors }, (_, t): [string, number][] => [[a, t], [b, t]]).flat();
  switch (className) {
    case 'Adam':
    case 'AdamW':
    case 'Nadam':
      return [...pairs('momentum', 'velocity'), ...(names.includes('velocity_hat') ? every('velocity_hat') : [])];
    default:
      // SGD, RMSprop and Adagrad keep each slot kind together, in the order ferro-nn names them.
      return names.flatMap(every);
  }
}

/** The optimizer's variables to save, Keras's order; `shapes` are the trainable tensors'. */
export function optimizerVars(className: string, state: OptimizerState, shapes: number[][], learningRate: number | undefined): H5Var[] {
  // int64, as Keras's `iterations`: int32 overflows at 2^31 and reads back through float32 rounded.
  const vars: H5Var[] = [{ shape: [], data: BigInt64Array.of(BigInt(state.iterations)) }];
  if (learningRate !== undefined) vars.push({ shape: [], data: Float32Array.of(learningRate) });
  const names = [...new Set(state.slots.map((s) => s.name))];
  for (const [name, t] of order(className, names, shapes.length)) {
    const slot = state.slots.find((s) => s.name === name && s.tensor === t)!;
    vars.push({ shape: shapes[t]!, data: slot.data });
  }
  if (className === 'Nadam') vars.push({ shape: [], data: Float32Array.of(state.uProduct) });
  return vars;
}

/** The shapes of the variables `optimizerVars` writes, to read them back checked. */
export function optimizerShapes(className: string, slotNames: readonly string[], shapes: number[][], hasRate: boolean): number[][] {
  const head: number[][] = hasRate ? [[], []] : [[]];
  const slots = order(className, slotNames, shapes.length).map(([, t]) => shapes[t]!);
  return [...head, ...slots, ...(className === 'Nadam' ? [[]] : [])];
}

/** The state `vars` (read in `optimizerShapes` order) restore, and the saved learning rate. */
export function stateFromVars(
  className: string,
  slotNames: readonly string[],
  tensors: number,
  vars: ArrayLike<number>[],
  hasRate: boolean,
): { state: OptimizerState; learningRate: number | undefined } {
  const iterations = vars[0]![0]!;
  if (!(Number.isInteger(iterations) && iterations >= 0 && iterations <= 2 ** 53)) {
    throw new FerroValueError(`Expected a whole optimizer iteration count from 0 to 2^53. Received: ${iterations}`);
  }
  const learningRate = hasRate ? vars[1]![0] : undefined;
  const start = hasRate ? 2 : 1;
  const slots: SlotState[] = order(className, slotNames, tensors).map(([name, tensor], i) => {
    const data = vars[start + i]!;
    return { name, tensor, data: data instanceof Float32Array ? data : Float32Array.from(data) };
  });
  const uProduct = className === 'Nadam' ? vars.at(-1)![0]! : 1;
  return { state: { iterations, uProduct, slots }, learningRate };
}
