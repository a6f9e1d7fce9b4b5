/**
 * Every loss against Keras: golden/keras-losses.json comes from Keras 3.15.1
 * (golden/keras_losses.py): three train_on_batch steps with SGD per loss,
 * each step's loss and the accuracy Keras resolves 'accuracy' to for that
 * loss (categorical, binary), and the final weights.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ActivationName, Dense, type Loss, type LossName, losses, SGD, Sequential, Tensor } from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

interface Run {
  loss: LossName;
  options: { from_logits?: boolean; label_smoothing?: number };
  hidden: ActivationName;
  output: ActivationName;
  target: string;
  steps: { loss: number; accuracy: number }[];
  weights: unknown[];
}
const golden = JSON.parse(readFileSync(new URL('./golden/keras-losses.json', import.meta.url), 'utf8')) as {
  x: number[][];
  targets: Record<string, number[][]>;
  runs: Record<string, Run>;
};
const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);
const values = (shape: number[], seed: number): number[] =>
  Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37 + seed * 11) % 23) / 23 - 0.5);

/** The run's loss: its name, or a loss object with Keras's options. */
function lossOf(run: Run): LossName | Loss {
  const { from_logits: fromLogits, label_smoothing: labelSmoothing } = run.options;
  if (fromLogits === undefined && labelSmoothing === undefined) return run.loss;
  const o = { fromLogits, labelSmoothing };
  if (run.loss === 'sparse_categorical_crossentropy') return new losses.SparseCategoricalCrossentropy(o);
  if (run.loss === 'categorical_crossentropy') return new losses.CategoricalCrossentropy(o);
  return new losses.BinaryCrossentropy(o);
}

describe('every loss matches Keras 3 step for step', () => {
  for (const [name, run] of Object.entries(golden.runs)) {
    it(`${name} (${run.hidden} → ${run.output}) ${JSON.stringify(run.options)}`, async () => {
      const y = golden.targets[run.target]!;
      // Class ids ("classes") feed three output units.
      const units = run.target === 'classes' ? 3 : y[0]!.length;
      const model = new Sequential([new Dense(7, { activation: run.hidden, inputDim: 5 }), new Dense(units, { activation: run.output })]);
      model.build([null, 5]);
      model.setWeights([
        new Tensor(Float32Array.from(values([5, 7], 2)), [5, 7]),
        new Tensor(Float32Array.from(values([7], 3), (v) => v * 0.1), [7]),
        new Tensor(Float32Array.from(values([7, units], 4)), [7, units]),
        new Tensor(Float32Array.from(values([units], 5), (v) => v * 0.1), [units]),
      ]);
      model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: lossOf(run), metrics: ['accuracy'] });
      for (const step of run.steps) {
        const got = await model.trainOnBatch(new Tensor(golden.x), new Tensor(y));
        expect(got.loss).toBeCloseTo(step.loss, 5);
        expect(got.accuracy).toBeCloseTo(step.accuracy, 6);
      }
      model.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, flat(run.weights[i]))).toBeLessThan(2e-6));
    });
  }
});

describe('targets for float losses', () => {
  it('accept [samples] for one unit, refuse other shapes and class ids where floats belong', async () => {
    const model = new Sequential([new Dense(1, { activation: 'sigmoid', inputDim: 2 })]);
    model.compile({ optimizer: 'sgd', loss: 'binary_crossentropy' });
    const x = new Tensor([[0, 1], [1, 0]]);
    await expect(model.fit(x, [0, 1], { verbose: 0 })).resolves.toBeDefined();
    await expect(model.fit(x, [[0, 1], [1, 0]], { verbose: 0 })).rejects.toMatchObject({ code: 'ERR_FERRO_SHAPE' });
    await expect(model.evaluate(x, [0, NaN])).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    const h = await model.fit(x, [0, 1], { epochs: 2, verbose: 0, classWeight: { 1: 3 } });
    expect(h.history.loss).toHaveLength(2);
  });
});
