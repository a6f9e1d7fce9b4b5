import { describe, expect, it } from 'vitest';
import { Dense, getNumThreads, mnist, Sequential, setNumThreads, setRandomSeed, type Tensor } from '../src/index.js';

async function trainOneEpoch(seed: number, threads: number, x: Tensor, y: Tensor): Promise<Float32Array[]> {
  setNumThreads(threads);
  setRandomSeed(seed);
  const model = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
  model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
  await model.fit(x, y, { epochs: 1, batchSize: 128, verbose: 0 });
  return model.getWeights().map((w) => w.data as Float32Array);
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return a.every((w, i) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(b[i]!.buffer, b[i]!.byteOffset, b[i]!.byteLength)));
}

describe('determinism', () => {
  it('same seed gives bit-identical weights after a full MNIST epoch on 1, 2 and 3 threads', async () => {
    const [[images, labels]] = await mnist.loadData();
    const x = images.reshape([60000, 784]).asType('float32').div(255);
    const one = await trainOneEpoch(42, 1, x, labels);
    expect(getNumThreads()).toBe(1);
    const two = await trainOneEpoch(42, 2, x, labels);
    const three = await trainOneEpoch(42, 3, x, labels);
    expect(sameBits(one, two)).toBe(true);
    expect(sameBits(one, three)).toBe(true);
    const other = await trainOneEpoch(43, 2, x, labels);
    expect(sameBits(one, other)).toBe(false);
  });
});
