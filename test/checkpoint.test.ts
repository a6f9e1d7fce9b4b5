/** ModelCheckpoint with Keras's semantics: path formatting, best-only, weights-only, batch frequency. */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { formatPath } from '../src/checkpoint.js';
import { Dense, loadModel, ModelCheckpoint, Sequential, setRandomSeed } from '../src/index.js';
import { blobs } from './helpers.js';

function model(): Sequential {
  setRandomSeed(2);
  const m = new Sequential([new Dense(8, { activation: 'relu', inputShape: [6] }), new Dense(3, { activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

describe('ModelCheckpoint', () => {
  it("formats paths as Python's str.format does", () => {
    expect(formatPath('ckpt-{epoch:02d}-{val_loss:.3f}.keras', { epoch: 3, val_loss: 0.12345 })).toBe('ckpt-03-0.123.keras');
    expect(formatPath('{a:.2e}|{a}|{b:5d}|{b:05d}|{c:f}', { a: 0.000123, b: 42, c: 1.5 })).toBe('1.23e-04|0.000123|   42|00042|1.500000');
    expect(() => formatPath('{val_auc:.2f}.keras', { epoch: 1 })).toThrow(/no value for \{val_auc\}/);
    expect(() => formatPath('{epoch:x}.keras', { epoch: 1 })).toThrow(/Unsupported format spec/);
  });

  it('refuses format specs it cannot honour when made, not at the first save', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-ckpt-'));
    for (const spec of ['.500f', '.101e', '0600000000d', '101d', 'abc', 'x', '.2g']) {
      const make = () => new ModelCheckpoint({ filepath: join(dir, `c-{loss:${spec}}.keras`) });
      expect(make, spec).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
      expect(make, spec).toThrow(`Unsupported format spec '${spec}' in the checkpoint path. Expected d, f or e with a width and precision of at most 100`);
    }
    // The widest and most precise specs allowed format, and save (a folder each: a file name has at most 255 bytes).
    const cb = new ModelCheckpoint({ filepath: join(dir, '{epoch:0100d}', '{loss:.100f}', '{loss:100.100e}.keras') });
    const { x, y } = blobs(12);
    await model().fit(x, y, { verbose: 0, callbacks: [cb] });
    const [epoch] = readdirSync(dir);
    expect(epoch).toBe(`${'0'.repeat(99)}1`);
    const [loss] = readdirSync(join(dir, epoch!));
    expect(loss).toMatch(/^\d\.\d{100}$/);
    expect(readdirSync(join(dir, epoch!, loss!))).toEqual([expect.stringMatching(/^\d\.\d{100}e[+-]\d\d\.keras$/)]);
  });

  it('saves every epoch under its formatted name; each file loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-ckpt-'));
    const { x, y } = blobs(60);
    const m = model();
    const cb = new ModelCheckpoint({ filepath: join(dir, 'ckpt-{epoch:02d}-{val_loss:.3f}.keras') });
    const h = await m.fit(x, y, { epochs: 3, batchSize: 16, validationSplit: 0.25, verbose: 0, callbacks: [cb] });
    const want = h.history.val_loss!.map((v, i) => `ckpt-0${i + 1}-${v.toFixed(3)}.keras`);
    expect(readdirSync(dir).sort()).toEqual(want.sort());
    const last = await loadModel(join(dir, want[2]!));
    expect(Array.from((await last.predict(x)).data)).toEqual(Array.from((await m.predict(x)).data));
    expect(last.optimizerIterations).toBe(m.optimizerIterations);
  });

  it('saveBestOnly keeps only improvements of the monitored metric, in its direction', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-ckpt-'));
    const { x, y } = blobs(80);
    const m = model();
    const cb = new ModelCheckpoint({ filepath: join(dir, 'best-{epoch}.keras'), monitor: 'loss', saveBestOnly: true });
    const up = new ModelCheckpoint({ filepath: join(dir, 'acc-{epoch}.keras'), monitor: 'accuracy', saveBestOnly: true });
    const h = await m.fit(x, y, { epochs: 8, batchSize: 8, verbose: 0, callbacks: [cb, up] });
    const improvements = (values: number[], better: (a: number, b: number) => boolean): number[] => {
      let best: number | undefined;
      return values.flatMap((v, i) => (best === undefined || better(v, best) ? ((best = v), [i + 1]) : []));
    };
    const saved = (prefix: string): number[] =>
      readdirSync(dir)
        .filter((f) => f.startsWith(prefix))
        .map((f) => Number(/-(\d+)\.keras$/.exec(f)![1]))
        .sort((a, b) => a - b);
    expect(saved('best-')).toEqual(improvements(h.history.loss!, (a, b) => a < b));
    expect(saved('acc-')).toEqual(improvements(h.history.accuracy!, (a, b) => a > b));
    expect(cb.best).toBe(Math.min(...h.history.loss!));
  });

  it('saveWeightsOnly every few batches, with {batch} in the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-ckpt-'));
    const { x, y } = blobs(32);
    const m = model();
    const cb = new ModelCheckpoint({ filepath: join(dir, 'sub', 'w-{epoch}-{batch}.weights.h5'), saveWeightsOnly: true, saveFreq: 2 });
    await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [cb] });
    expect(readdirSync(join(dir, 'sub')).sort()).toEqual(['w-1-2.weights.h5', 'w-1-4.weights.h5', 'w-2-2.weights.h5', 'w-2-4.weights.h5']);
    const copy = model();
    copy.build([null, 6]);
    await copy.loadWeights(join(dir, 'sub', 'w-2-4.weights.h5'));
    expect(Array.from((await copy.predict(x)).data)).toEqual(Array.from((await m.predict(x)).data));
  });

  it("verbose prints Keras's lines; a missing monitor saves anyway with a warning, as Keras 3 does", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-ckpt-'));
    const { x, y } = blobs(24);
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (printed.push(String(s)), true));
    const warned: string[] = [];
    const onWarning = (w: Error): void => void warned.push(w.message);
    process.on('warning', onWarning);
    try {
      const cb = new ModelCheckpoint({ filepath: join(dir, 'm.keras'), monitor: 'loss', saveBestOnly: true, verbose: 1 });
      const h = await model().fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [cb] });
      const [l1, l2] = h.history.loss!;
      expect(printed.join('')).toBe(
        `\nEpoch 1: loss improved from None to ${l1!.toFixed(5)}, saving model to ${join(dir, 'm.keras')}\n` +
          (l2! < l1!
            ? `\nEpoch 2: loss improved from ${l1!.toFixed(5)} to ${l2!.toFixed(5)}, saving model to ${join(dir, 'm.keras')}\n`
            : `\nEpoch 2: loss did not improve from ${l1!.toFixed(5)}\n`),
      );
      const missing = new ModelCheckpoint({ filepath: join(dir, 'v-{epoch}.keras'), monitor: 'val_loss', saveBestOnly: true });
      await model().fit(x, y, { epochs: 1, verbose: 0, callbacks: [missing] });
      await new Promise((r) => setImmediate(r));
      expect(readdirSync(dir)).toContain('v-1.keras');
      expect(warned.some((m) => m.includes('val_loss available'))).toBe(true);
    } finally {
      spy.mockRestore();
      process.off('warning', onWarning);
    }
  });

  it("refuses paths Keras 3 refuses, and a monitor whose direction it cannot tell", async () => {
    expect(() => new ModelCheckpoint({ filepath: 'x.h5' })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    expect(() => new ModelCheckpoint({ filepath: 'x.keras', saveWeightsOnly: true })).toThrow(/\.weights\.h5/);
    const { x, y } = blobs(16);
    const cb = new ModelCheckpoint({ filepath: join(tmpdir(), 'never.keras'), monitor: 'my_metric', saveBestOnly: true });
    await expect(model().fit(x, y, { verbose: 0, callbacks: [cb] })).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
  });

  it('a directory that cannot be created is ERR_FERRO_IO naming it', async () => {
    const { x, y } = blobs(16);
    const file = join(mkdtempSync(join(tmpdir(), 'ferro-ckpt-')), 'a-file');
    writeFileSync(file, 'x');
    for (const [filepath, dir, why] of [[join(file, 'ck.keras'), file, 'EEXIST'], [join(file, 'sub', 'ck.keras'), join(file, 'sub'), 'ENOTDIR']]) {
      const cb = new ModelCheckpoint({ filepath: filepath! });
      await expect(model().fit(x, y, { verbose: 0, callbacks: [cb] })).rejects.toMatchObject({
        code: 'ERR_FERRO_IO',
        message: expect.stringMatching(new RegExp(`^Expected a directory that can be created at '${dir}'. Received: ${why}`)),
      });
    }
  });
});
