/**
 * Metrics besides accuracy against Keras: golden/keras-metrics.json comes
 * from Keras 3.15.1 (golden/keras_metrics.py): a regression fit with
 * metrics mae, mean_squared_error and root_mean_squared_error and
 * validation data; every History key as Keras names it, and evaluate.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dense, type MetricName, SGD, Sequential, Tensor } from '../src/index.js';

const golden = JSON.parse(readFileSync(new URL('./golden/keras-metrics.json', import.meta.url), 'utf8')) as {
  metrics: MetricName[];
  x: number[][];
  y: number[][];
  x_val: number[][];
  y_val: number[][];
  history: Record<string, number[]>;
  evaluate: Record<string, number>;
};
const values = (shape: number[], seed: number): Float32Array =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37 + seed * 11) % 23) / 23 - 0.5);

describe('metrics match Keras 3', () => {
  it('History holds every metric and val_ metric under Keras names, with Keras values; evaluate too', async () => {
    const model = new Sequential([new Dense(7, { activation: 'tanh', inputDim: 5 }), new Dense(2)]);
    model.build([null, 5]);
    model.setWeights([
      new Tensor(values([5, 7], 2), [5, 7]),
      new Tensor(values([7], 3).map((v) => v * 0.1), [7]),
      new Tensor(values([7, 2], 4), [7, 2]),
      new Tensor(values([2], 5).map((v) => v * 0.1), [2]),
    ]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse', metrics: golden.metrics });
    const h = await model.fit(new Tensor(golden.x), new Tensor(golden.y), {
      epochs: 2,
      batchSize: 4,
      shuffle: false,
      verbose: 0,
      validationData: [new Tensor(golden.x_val), new Tensor(golden.y_val)],
    });
    for (const [key, series] of Object.entries(golden.history)) {
      expect(h.history[key], key).toBeDefined();
      h.history[key]!.forEach((v, i) => expect(v, `${key}[${i}]`).toBeCloseTo(series[i]!, 5));
    }
    const r = await model.evaluate(new Tensor(golden.x_val), new Tensor(golden.y_val));
    for (const [key, v] of Object.entries(golden.evaluate)) expect(r[key], key).toBeCloseTo(v, 5);
  });

  it('refuses float metrics for class-id targets', () => {
    const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 2 })]);
    model.build([null, 2]);
    expect(() => model.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy', metrics: ['mae'] })).toThrow(
      /float targets/,
    );
  });
});
