/**
 * ferro-nn against Keras itself: the numbers in golden/keras-dense-rmsprop.json
 * come from Keras 3.15.1 (JAX backend), by golden/keras_dense_rmsprop.py.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dense, RMSprop, Sequential, Tensor } from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

interface Run {
  optimizer: { learning_rate: number; rho?: number; momentum?: number; centered?: boolean; epsilon?: number };
  predict: number[][];
  steps: { loss: number; accuracy: number }[];
  weights: number[][][] | number[][];
}
const golden = JSON.parse(readFileSync(new URL('./golden/keras-dense-rmsprop.json', import.meta.url), 'utf8')) as {
  x: number[][];
  y: number[];
  weights: (number[][] | number[])[];
  runs: Record<string, Run>;
};

const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);

describe('matches Keras 3 step for step', () => {
  for (const [name, run] of Object.entries(golden.runs)) {
    it(`Dense(7, relu) -> Dense(3, softmax), RMSprop ${name}`, async () => {
      const o = run.optimizer;
      const model = new Sequential([
        new Dense(7, { activation: 'relu', inputDim: 5 }),
        new Dense(3, { activation: 'softmax' }),
      ]);
      model.build([null, 5]);
      model.setWeights(golden.weights.map((w) => new Tensor(w as number[][])));
      model.compile({
        optimizer: new RMSprop({
          learningRate: o.learning_rate,
          rho: o.rho,
          momentum: o.momentum,
          centered: o.centered,
          epsilon: o.epsilon,
        }),
        loss: 'sparse_categorical_crossentropy',
        metrics: ['accuracy'],
      });
      const x = new Tensor(golden.x);
      const y = new Tensor(golden.y, [golden.y.length], 'int32');

      expect(maxAbsDiff((await model.predict(x)).data, flat(run.predict))).toBeLessThan(1e-6);
      for (const step of run.steps) {
        const got = await model.trainOnBatch(x, y);
        expect(got.loss).toBeCloseTo(step.loss, 5);
        expect(got.accuracy).toBe(step.accuracy);
      }
      const weights = model.getWeights();
      run.weights.forEach((w, i) => {
        expect(maxAbsDiff(weights[i]!.data, flat(w))).toBeLessThan(2e-5);
      });
    });
  }
});
