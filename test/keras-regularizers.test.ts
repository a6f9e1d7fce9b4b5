/**
 * Kernel and bias regularizers against Keras: golden/keras-regularizers.json
 * comes from Keras 3.15.1's fit (golden/keras_regularizers.py): two
 * unshuffled epochs of batches of four with SGD, each epoch's loss and
 * val_loss (both carry the penalty), evaluate()'s loss and the final weights.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dense, type L1L2Options, Regularizer, regularizers, SGD, Sequential, Tensor } from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

type Spec = { kernel?: L1L2Options; bias?: L1L2Options };
const golden = JSON.parse(readFileSync(new URL('./golden/keras-regularizers.json', import.meta.url), 'utf8')) as {
  x: number[][];
  y: number[];
  weights: (number[][] | number[])[];
  runs: Record<
    string,
    { spec: Spec[]; loss: number[]; val_loss: number[]; accuracy: number[]; evaluate_loss: number; weights: unknown[] }
  >;
};
const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);
const reg = (o: L1L2Options | undefined) => (o ? regularizers.l1l2(o) : undefined);

describe('kernel and bias regularizers match Keras 3', () => {
  for (const [name, run] of Object.entries(golden.runs)) {
    it(name, async () => {
      const [first, second] = run.spec as [Spec, Spec];
      const m = new Sequential([
        new Dense(7, { activation: 'relu', inputDim: 5, kernelRegularizer: reg(first.kernel), biasRegularizer: reg(first.bias) }),
        new Dense(3, { activation: 'softmax', kernelRegularizer: reg(second.kernel), biasRegularizer: reg(second.bias) }),
      ]);
      m.build([null, 5]);
      m.setWeights(golden.weights.map((w) => new Tensor(w as number[][])));
      m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
      const x = new Tensor(golden.x);
      const validationData: [Tensor, number[]] = [new Tensor(golden.x.slice(0, 3)), golden.y.slice(0, 3)];
      const h = await m.fit(x, golden.y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0, validationData });
      h.history.loss.forEach((l, i) => expect(l).toBeCloseTo(run.loss[i]!, 5));
      h.history.val_loss!.forEach((l, i) => expect(l).toBeCloseTo(run.val_loss[i]!, 5));
      expect(h.history.accuracy).toEqual(run.accuracy);
      const evaluated = await m.evaluate(x, golden.y);
      expect(evaluated.loss).toBeCloseTo(run.evaluate_loss, 5);
      m.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, flat(run.weights[i]))).toBeLessThan(2e-6));
    });
  }

  it('builds penalties as Keras and TensorFlow.js spell them', () => {
    expect(regularizers.l2()).toMatchObject({ l1: 0, l2: 0.01 });
    expect(regularizers.l2(0.5)).toMatchObject({ l1: 0, l2: 0.5 });
    expect(regularizers.l1({ l1: 0.3 })).toMatchObject({ l1: 0.3, l2: 0 });
    expect(regularizers.l1l2({ l1: 0.1 })).toMatchObject({ l1: 0.1, l2: 0 });
    expect(new Dense(2, { kernelRegularizer: 'l1' }).kernelRegularizer).toMatchObject({ l1: 0.01, l2: 0 });
    expect(new Dense(2).kernelRegularizer).toBeUndefined();
    // 0.5·(1 + 2) + 0.25·(1 + 4), in float64.
    expect(new Regularizer({ l1: 0.5, l2: 0.25 }).apply(new Tensor([1, -2]))).toBe(2.75);
  });

  it('refuses negative, non-finite and unknown penalties with coded errors', () => {
    expect(() => regularizers.l2(-1)).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    expect(() => regularizers.l1l2({ l1: Number.NaN })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    expect(() => new Dense(2, { kernelRegularizer: 'l3' as never })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_TYPE' }));
    expect(() => new Dense(2, { biasRegularizer: { l2: 1 } as never })).toThrow(/Regularizer/);
  });
});
