/**
 * A model's weight shapes worked out from its layers and input width alone,
 * without building anything: for summary() and countParams(), and for the
 * loaders to check a file's weights against its config before allocating.
 */

import type { Layer } from './layer.js';

/** A layer's weights on a known input width. */
export interface LayerShapes {
  /** Its weights' shapes, Keras's order. */
  shapes: number[][];
  /** How many of them (the first) the optimizer trains. */
  trainable: number;
  /** Its output width. */
  out: number;
}

/** Each layer's shapes on inputs of `features`, for the layers up to where the width is unknown. */
export function layerShapes(layers: readonly Layer[], features: number | undefined): LayerShapes[] {
  const known: LayerShapes[] = [];
  for (const l of layers) {
    if (features === undefined) break;
    known.push({ shapes: l.weightShapes(features), trainable: l.trainableCount(features), out: l.outputDim(features) });
    features = l.outputDim(features);
  }
  return known;
}

/** The number of values in tensors of these shapes. */
export function sizeOf(shapes: readonly number[][]): number {
  return shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
}

/** The parameters of `layers` on inputs of `features` (0 for the layers after an unknown width). */
export function countParams(layers: readonly Layer[], features: number | undefined): number {
  return layerShapes(layers, features).reduce((n, l) => n + sizeOf(l.shapes), 0);
}
