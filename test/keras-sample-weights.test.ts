/**
 * sampleWeight and classWeight against Keras: golden/keras-sample-weights.json
 * comes from Keras 3.15.1's fit (golden/keras_sample_weights.py): two
 * unshuffled epochs of batches of four with SGD, each epoch's loss and
 * accuracy, and the final weights.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dense, type FitOptions, FerroValueError, SGD, Sequential, Tensor } from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

const golden = JSON.parse(readFileSync(new URL('./golden/keras-sample-weights.json', import.meta.url), 'utf8')) as {
  x: number[][];
  y: number[];
  weights: (number[][] | number[])[];
  sample_weight: number[];
  class_weight: Record<string, number>;
  evaluate_sample_weight: { loss: number; accuracy: number };
  binary_half: { y: number[]; weights: (number[][] | number[])[]; class_weight: Record<string, number>; loss: number[]; final_weights: unknown[] };
  runs: Record<
    string,
    { loss: number[]; accuracy: number[]; val_loss: number[] | null; val_accuracy: number[] | null; weights: unknown[] }
  >;
};
const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);

function model(): Sequential {
  const m = new Sequential([new Dense(7, { activation: 'relu', inputDim: 5 }), new Dense(3, { activation: 'softmax' })]);
  m.build([null, 5]);
  m.setWeights(golden.weights.map((w) => new Tensor(w as number[][])));
  m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

describe('sample and class weights match Keras 3', () => {
  const options: Record<string, FitOptions> = {
    none: {},
    sample_weight: { sampleWeight: new Tensor(Float32Array.from(golden.sample_weight)) },
    class_weight: { classWeight: golden.class_weight as unknown as Record<number, number> },
    // Keras looks each label up: a key no label has changes nothing.
    class_weight_unused_key: { classWeight: { ...(golden.class_weight as unknown as Record<number, number>), 7: 3 } },
    split_sample_weight: { sampleWeight: golden.sample_weight, validationSplit: 0.25 },
    split_class_weight: { classWeight: golden.class_weight as unknown as Record<number, number>, validationSplit: 0.25 },
    validation_data_weight: {
      validationData: [new Tensor(golden.x.slice(0, 3)), golden.y.slice(0, 3), golden.sample_weight.slice(5)],
    },
  };
  for (const [name, run] of Object.entries(golden.runs)) {
    it(name, async () => {
      const m = model();
      const h = await m.fit(new Tensor(golden.x), golden.y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0, ...options[name] });
      h.history.loss.forEach((l, i) => expect(l).toBeCloseTo(run.loss[i]!, 5));
      // Keras's accuracies are float32 (1/3 reads 0.33333334).
      h.history.accuracy.forEach((a, i) => expect(a).toBeCloseTo(run.accuracy[i]!, 6));
      if (run.val_loss) {
        h.history.val_loss!.forEach((l, i) => expect(l).toBeCloseTo(run.val_loss![i]!, 5));
        expect(h.history.val_accuracy).toEqual(run.val_accuracy);
      } else {
        expect(h.history.val_loss).toBeUndefined();
      }
      m.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, flat(run.weights[i]))).toBeLessThan(2e-6));
    });
  }

  it('takes classWeight as a Map too, and refuses objects whose entries it cannot see', async () => {
    // A Map (JavaScript's dict) was read with Object.entries, which sees
    // none of its entries: its weights were ignored without a word.
    const fit = async (classWeight: unknown): Promise<number[]> => {
      const m = model();
      const h = await m.fit(new Tensor(golden.x), golden.y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0, classWeight: classWeight as Map<number, number> });
      return h.history.loss;
    };
    const asMap = new Map(Object.entries(golden.class_weight).map(([k, v]) => [Number(k), v]));
    expect(await fit(asMap)).toEqual(await fit(golden.class_weight));
    expect(await fit(asMap)).not.toEqual(await fit(undefined));
    // Read through Map.prototype's iterator: one the caller replaced never runs.
    const trapped = new Map(asMap);
    Object.defineProperty(trapped, Symbol.iterator, { value: () => { throw new Error('not a coded error'); } });
    expect(await fit(trapped)).toEqual(await fit(golden.class_weight));
    await expect(fit(new Map([['a', 2]]))).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    for (const bad of [new Set([1]), new Float32Array([1, 2, 3]), [1, 2, 3], new Date(0)]) {
      await expect(fit(bad)).rejects.toMatchObject({ code: 'ERR_FERRO_TYPE', message: expect.stringMatching(/an object or a Map/) });
    }
  });

  it('weighs evaluate() as Keras does', async () => {
    const m = model();
    const x = new Tensor(golden.x);
    const weighted = await m.evaluate(x, golden.y, { sampleWeight: golden.sample_weight });
    expect(weighted.loss).toBeCloseTo(golden.evaluate_sample_weight.loss, 5);
    expect(weighted.accuracy).toBeCloseTo(golden.evaluate_sample_weight.accuracy, 6);
    expect((await m.evaluate(x, golden.y)).loss).not.toBeCloseTo(weighted.loss, 2);
    await expect(m.evaluate(x, golden.y, { sampleWeight: [1, 2] })).rejects.toMatchObject({ code: 'ERR_FERRO_SHAPE' });
    await expect(m.evaluate(x, golden.y, { sampleWeight: golden.y.map(() => Number.NaN) })).rejects.toMatchObject({
      code: 'ERR_FERRO_VALUE',
    });
  });

  it('refuses both at once, wrong lengths and bad values', async () => {
    const x = new Tensor(golden.x);
    const m = model();
    await expect(m.fit(x, golden.y, { verbose: 0, sampleWeight: [1], classWeight: {} })).rejects.toBeInstanceOf(FerroValueError);
    await expect(m.fit(x, golden.y, { verbose: 0, sampleWeight: [1, 2] })).rejects.toMatchObject({ code: 'ERR_FERRO_SHAPE' });
    await expect(m.fit(x, golden.y, { verbose: 0, sampleWeight: golden.y.map(() => -1) })).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    await expect(m.fit(x, golden.y, { verbose: 0, classWeight: { '-1': 1 } })).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    await expect(m.fit(x, golden.y, { verbose: 0, classWeight: { one: 1 } as unknown as Record<number, number> })).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    const vx = new Tensor(golden.x.slice(0, 3));
    await expect(m.fit(x, golden.y, { verbose: 0, validationData: [vx, [0, 1, 2], [1, 2]] })).rejects.toThrow(
      /validationData\[2\] of shape \[3\]/,
    );
    await expect(m.fit(x, golden.y, { verbose: 0, validationData: [vx, [0, 1, 2], [1, -2, 1]] })).rejects.toThrow(
      /validationData\[2\]\[1\]=-2/,
    );
  });

  it('rounds a single column of targets half to even, as np.round does', async () => {
    const b = golden.binary_half;
    const m = new Sequential([new Dense(1, { activation: 'sigmoid', inputDim: 5 })]);
    m.setWeights(b.weights.map((w) => new Tensor(w as number[][])));
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'binary_crossentropy' });
    const classWeight = b.class_weight as unknown as Record<number, number>;
    const y = new Tensor(Float32Array.from(b.y), [b.y.length, 1]);
    const h = await m.fit(new Tensor(golden.x), y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0, classWeight });
    h.history.loss.forEach((l, i) => expect(l).toBeCloseTo(b.loss[i]!, 5));
    m.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, flat(b.final_weights[i]))).toBeLessThan(2e-6));
  });

  it('splits the weights with validationSplit, as Keras does', async () => {
    const m = model();
    const sampleWeight = golden.sample_weight;
    const h = await m.fit(new Tensor(golden.x), golden.y, { epochs: 1, verbose: 0, validationSplit: 0.25, sampleWeight });
    expect(h.history.val_loss).toHaveLength(1);
  });
});
