/**
 * Dropout, BatchNormalization and Activation layers (and gelu, silu) through
 * the public API, against golden/keras-layers.json from Keras 3.15.1
 * (golden/keras_layers.py): training steps, moving statistics, inference
 * outputs and summary().
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  Activation,
  type ActivationName,
  BatchNormalization,
  Dense,
  Dropout,
  type Layer,
  type LossName,
  Adam,
  SGD,
  Sequential,
  setNumThreads,
  setRandomSeed,
  Tensor,
} from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

type Spec = ['Dense', number, ActivationName] | ['BatchNormalization', { momentum?: number; center?: boolean; scale?: boolean }] | ['Activation', ActivationName];
interface Stack {
  spec: Spec[];
  optimizer: ['adam' | 'sgd', number];
  loss: LossName;
  y: number[] | number[][];
  initial: unknown[];
  steps: number[];
  weights: unknown[];
  predict: number[][];
  evaluate: number;
}
const golden = JSON.parse(readFileSync(new URL('./golden/keras-layers.json', import.meta.url), 'utf8')) as {
  x: number[][];
  stacks: Record<string, Stack>;
  summary: string;
};
const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);
const KERAS_NAMES = ['dense', 'batch_normalization', 'activation', 'dense_1'];

function layerOf(s: Spec, i: number): Layer {
  const first = i === 0 ? { inputShape: [4] } : {};
  const name = { name: KERAS_NAMES[i] };
  if (s[0] === 'Dense') return new Dense(s[1], { activation: s[2], ...first, ...name });
  if (s[0] === 'Activation') return new Activation(s[1], { ...first, ...name });
  return new BatchNormalization({ ...s[1], ...first, ...name });
}

function build(stack: Stack): Sequential {
  const model = new Sequential(stack.spec.map(layerOf), { name: 'sequential' });
  model.build([null, 4]);
  model.setWeights(stack.initial.map((w) => new Tensor(Float32Array.from(flat(w)), shapeOf(w))));
  const [kind, lr] = stack.optimizer;
  model.compile({ optimizer: kind === 'adam' ? new Adam({ learningRate: lr }) : new SGD({ learningRate: lr }), loss: stack.loss });
  return model;
}

function shapeOf(a: unknown): number[] {
  return Array.isArray(a) ? [a.length, ...shapeOf(a[0])] : [];
}

describe('layer stacks match Keras 3 step for step', () => {
  for (const [name, stack] of Object.entries(golden.stacks)) {
    it(`${name}: ${stack.spec.map((s) => s[0]).join(' → ')}`, async () => {
      const model = build(stack);
      const x = new Tensor(golden.x);
      const y = new Tensor(stack.y);
      for (const want of stack.steps) {
        expect((await model.trainOnBatch(x, y)).loss).toBeCloseTo(want, 5);
      }
      // Trainable weights after three steps, and the moving statistics.
      model.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, flat(stack.weights[i]))).toBeLessThan(2e-5));
      // Inference uses the moving statistics.
      const predicted = await model.predict(x);
      expect(maxAbsDiff(predicted.data, flat(stack.predict))).toBeLessThan(2e-5);
      expect((await model.evaluate(x, y)).loss).toBeCloseTo(stack.evaluate, 5);
    });
  }

  it("summary() counts trainable and non-trainable parameters as Keras does, long names wrapped", () => {
    const stack = golden.stacks.gelu_bn_silu!;
    const model = new Sequential(stack.spec.map(layerOf), { name: 'sequential' });
    model.build([null, 4]);
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const text = model.summary();
    spy.mockRestore();
    expect(text).toBe(golden.summary);
    expect(model.countParams()).toBe(75);
    expect(model.layers[1]!.getWeights().map((w) => w.shape)).toEqual([[6], [6], [6], [6]]);
  });
});

describe('Dropout', () => {
  /** x ↦ Σx through Dropout and a fixed all-ones Dense, trained with learning rate 0. */
  function probe(rate: number): Sequential {
    const model = new Sequential([new Dropout(rate, { inputShape: [20] }), new Dense(1, { useBias: false, kernelInitializer: 'ones' })]);
    model.compile({ optimizer: new SGD({ learningRate: 0 }), loss: 'mse' });
    return model;
  }
  const rowsOf = Array.from({ length: 64 }, (_, i) => Array.from({ length: 20 }, (_, j) => 1 + ((i * 20 + j) % 7) / 7));
  const x = new Tensor(rowsOf);
  const sums = new Tensor(rowsOf.map((r) => [r.reduce((a, b) => a + b, 0)]));

  it('drops only in training: predict and evaluate pass inputs through', async () => {
    const model = probe(0.5);
    expect((await model.evaluate(x, sums)).loss).toBeLessThan(1e-9);
    expect(maxAbsDiff((await model.predict(x)).data, Array.from(sums.data))).toBeLessThan(1e-5);
    // Dropping half the inputs (and doubling the rest) moves each sum by several units.
    expect((await model.trainOnBatch(x, sums)).loss).toBeGreaterThan(1);
    expect((await probe(0).trainOnBatch(x, sums)).loss).toBeLessThan(1e-9);
  });

  it('draws the same masks from the same seed on 1 and 2 threads, other masks from another seed', async () => {
    const run = async (seed: number, threads: number): Promise<number[]> => {
      setNumThreads(threads);
      setRandomSeed(seed);
      const model = new Sequential([
        new Dense(32, { activation: 'relu', inputShape: [20] }),
        new Dropout(0.3),
        new BatchNormalization(),
        new Dense(1),
      ]);
      model.compile({ optimizer: 'adam', loss: 'mse' });
      const h = await model.fit(x, sums, { epochs: 3, batchSize: 16, verbose: 0 });
      return [...h.history.loss!, ...model.getWeights().flatMap((w) => Array.from(w.data))];
    };
    const one = await run(5, 1);
    const two = await run(5, 2);
    expect(two).toEqual(one);
    expect(await run(6, 2)).not.toEqual(one);
  });

  it('a seed given to the layer fixes its masks whatever the model seed', async () => {
    const loss = async (modelSeed: number, layerSeed: number | undefined): Promise<number> => {
      setRandomSeed(modelSeed);
      const model = new Sequential([new Dropout(0.5, { inputShape: [20], seed: layerSeed }), new Dense(1, { useBias: false, kernelInitializer: 'ones' })]);
      model.compile({ optimizer: new SGD({ learningRate: 0 }), loss: 'mse' });
      return (await model.trainOnBatch(x, sums)).loss;
    };
    expect(await loss(1, 9)).toBe(await loss(2, 9));
    expect(await loss(1, undefined)).not.toBe(await loss(2, undefined));
  });
});
