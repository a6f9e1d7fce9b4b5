/**
 * ONNX export against onnxruntime-node 1.23 (a devDependency): the exported
 * graph, run by onnxruntime, predicts what predict() does within 1e-5, for
 * every layer kind and every activation.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Activation, type ActivationName, BatchNormalization, Dense, Dropout, Sequential, setRandomSeed } from '../src/index.js';
import { ACTIVATION_NAMES } from '../src/layers.js';
import { maxAbsDiff } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ferro-onnx-'));
const rows = 7;
const x = Array.from({ length: rows }, (_, i) => [Math.sin(i) * 3, Math.cos(i * 0.7) * 2, i / rows - 0.5, 1.5 - i * 0.4]);

async function runOnnx(path: string, input: number[][]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(readFileSync(path));
  const feeds = { input: new ort.Tensor('float32', Float32Array.from(input.flat()), [input.length, input[0]!.length]) };
  const out = await session.run(feeds);
  return out.output!.data as Float32Array;
}

describe('ONNX export', () => {
  it('every layer kind, trained, runs in onnxruntime as it predicts', async () => {
    setRandomSeed(8);
    const model = new Sequential([
      new Dense(9, { activation: 'gelu', inputShape: [4] }),
      new Dropout(0.3),
      new BatchNormalization({ momentum: 0.8, center: false }),
      new Activation('silu'),
      new Dense(6, { activation: 'relu6', useBias: false }),
      new BatchNormalization({ scale: false }),
      new Dense(3, { activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    await model.fit(x, [0, 1, 2, 0, 1, 2, 0], { epochs: 5, batchSize: 3, verbose: 0 });
    const path = join(dir, 'model.onnx');
    await model.exportOnnx(path);
    expect(maxAbsDiff(await runOnnx(path, x), (await model.predict(x)).data)).toBeLessThan(1e-5);
  });

  it('every activation, in a Dense layer and as an Activation layer', async () => {
    for (const activation of ACTIVATION_NAMES as readonly ActivationName[]) {
      setRandomSeed(1);
      const model = new Sequential([
        new Dense(5, { activation, inputShape: [4], biasInitializer: 'random_uniform' }),
        new Activation(activation),
      ]);
      model.build([null, 4]);
      const path = join(dir, `${activation}.onnx`);
      await model.exportOnnx(path);
      expect(maxAbsDiff(await runOnnx(path, x), (await model.predict(x)).data), activation).toBeLessThan(1e-5);
    }
  });

  it('exports the model as it was when called, whatever fit() the caller starts before awaiting', async () => {
    setRandomSeed(3);
    const model = new Sequential([new Dense(3, { inputShape: [4], activation: 'tanh' }), new Dense(2)]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    model.build([null, 4]);
    const expected = (await model.predict(x)).data;
    const path = join(dir, 'snapshot.onnx');
    const exporting = model.exportOnnx(path);
    const fitting = model.fit(x, x.map((r) => [r[0]!, r[1]!]), { epochs: 20, batchSize: 2, verbose: 0 });
    await exporting;
    await fitting;
    expect(maxAbsDiff((await model.predict(x)).data, expected)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(await runOnnx(path, x), expected)).toBeLessThan(1e-5);
  });

  it('refuses an unbuilt model', async () => {
    await expect(new Sequential([new Dense(2)]).exportOnnx(join(dir, 'x.onnx'))).rejects.toMatchObject({ code: 'ERR_FERRO_STATE' });
  });
});
