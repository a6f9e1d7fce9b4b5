/**
 * Metrics besides accuracy against Keras: golden/keras-metrics.json comes
 * from Keras 3.15.1 (golden/keras_metrics.py): a regression fit with
 * metrics mae, mean_squared_error and root_mean_squared_error and
 * validation data; every History key as Keras names it, and evaluate.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dense, type MetricName, SGD, Sequential, Tensor } from '../src/index.js';

interface Run {
  metrics: MetricName[];
  x: number[][];
  y: number[][];
  x_val: number[][];
  y_val: number[][];
  history: Record<string, number[]>;
  evaluate: Record<string, number>;
}
const golden = JSON.parse(readFileSync(new URL('./golden/keras-metrics.json', import.meta.url), 'utf8')) as Run & { binary: Run };
const values = (shape: number[], seed: number): Float32Array =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37 + seed * 11) % 23) / 23 - 0.5);

/** Fits `run`'s model as Keras did and compares every History key and evaluate(). */
async function matchKeras(run: Run, hidden: 'tanh' | 'relu', output: 'linear' | 'sigmoid', lr: number, loss: 'mse' | 'binary_crossentropy'): Promise<void> {
  const units = run.y[0]!.length;
  const model = new Sequential([new Dense(7, { activation: hidden, inputDim: 5 }), new Dense(units, { activation: output })]);
  model.build([null, 5]);
  model.setWeights([
    new Tensor(values([5, 7], 2), [5, 7]),
    new Tensor(values([7], 3).map((v) => v * 0.1), [7]),
    new Tensor(values([7, units], 4), [7, units]),
    new Tensor(values([units], 5).map((v) => v * 0.1), [units]),
  ]);
  model.compile({ optimizer: new SGD({ learningRate: lr }), loss, metrics: run.metrics });
  const h = await model.fit(new Tensor(run.x), new Tensor(run.y), {
    epochs: 2,
    batchSize: 4,
    shuffle: false,
    verbose: 0,
    validationData: [new Tensor(run.x_val), new Tensor(run.y_val)],
  });
  // Keras's keys, plus the accuracy ferro-nn always reports (DESIGN: logs hold loss and accuracy).
  const always = ['accuracy', 'val_accuracy'];
  expect(Object.keys(h.history).sort()).toEqual([...new Set([...Object.keys(run.history), ...always])].sort());
  for (const [key, series] of Object.entries(run.history)) {
    h.history[key]!.forEach((v, i) => expect(v, `${key}[${i}]`).toBeCloseTo(series[i]!, 5));
  }
  const r = await model.evaluate(new Tensor(run.x_val), new Tensor(run.y_val));
  for (const [key, v] of Object.entries(run.evaluate)) expect(r[key], key).toBeCloseTo(v, 5);
}

describe('metrics match Keras 3', () => {
  it('History holds every metric and val_ metric under Keras names, with Keras values; evaluate too', async () => {
    await matchKeras(golden, 'tanh', 'linear', 0.1, 'mse');
  });

  it('auc, precision, recall and acc accumulate over an epoch\'s batches as Keras does', async () => {
    await matchKeras(golden.binary, 'relu', 'sigmoid', 0.3, 'binary_crossentropy');
  });

  it('refuses float metrics for class-id targets', () => {
    const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 2 })]);
    model.build([null, 2]);
    expect(() => model.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy', metrics: ['mae'] })).toThrow(
      /float targets/,
    );
  });
});
