/**
 * Property-based fuzzing of the loaders (loadModel, loadWeights,
 * loadLayersModel): files that real Keras 3 and TensorFlow.js wrote
 * (test/fixtures), damaged. Byte flips, truncations,
 * insertions and extreme 32-bit fields reach the zip, HDF5 and shard
 * readers; edits of the JSON tree (keys dropped or renamed, values swapped
 * for null, numbers, strings, arrays or objects) reach the config readers
 * past the parser. Each load must succeed or fail with a FerroError carrying
 * a stable code; a TypeError from a config that lacks a field fails the
 * test. FAST_CHECK_RUNS scales the runs (npm run fuzz).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, FerroError, loadLayersModel, loadModel } from '../src/index.js';

const RUNS = Number(process.env.FAST_CHECK_RUNS ?? 500);
const CODES: ReadonlySet<ErrorCode> = new Set(['ERR_FERRO_TYPE', 'ERR_FERRO_VALUE', 'ERR_FERRO_SHAPE', 'ERR_FERRO_IO']);
const fixturePath = (name: string): string => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const fixture = (name: string): Uint8Array => readFileSync(fixturePath(name));
const dir = mkdtempSync(join(tmpdir(), 'ferro-fuzz-files-'));

/** True if `load` succeeded, false if it failed with a coded error; throws otherwise. */
async function loads(load: () => Promise<unknown>): Promise<boolean> {
  try {
    await load();
    return true;
  } catch (error) {
    if (error instanceof FerroError && CODES.has(error.code) && error.message.length > 0) return false;
    throw new Error(`Not a coded error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

/** Draws from `choices`, a list of arbitrary naturals, in turn (0 once they run out). */
function drawer(choices: number[]): (n: number) => number {
  let i = 0;
  return (n) => (choices[i++] ?? 0) % Math.max(1, n);
}

/** `bytes` damaged as `draw` says: flipped bytes, a truncation, an insertion or an extreme 32-bit field. */
function damage(bytes: Uint8Array, draw: (n: number) => number): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (draw(4)) {
    case 0:
      for (let k = 0, n = 1 + draw(8); k < n; k++) out[draw(out.length)] = draw(256);
      return out;
    case 1:
      return out.subarray(0, draw(out.length));
    case 2: {
      const at = draw(out.length);
      const inserted = Uint8Array.from({ length: 1 + draw(16) }, () => draw(256));
      return new Uint8Array([...out.subarray(0, at), ...inserted, ...out.subarray(at)]);
    }
    default: {
      const value = [0xffffffff, 0x7fffffff, 0x80000000, 0, 1, 0xffff][draw(6)]!;
      new DataView(out.buffer).setUint32(draw(out.length - 3), value, true);
      return out;
    }
  }
}

const ODD: unknown[] = [null, 0, -1, 1e308, 'x', '', [], {}, true, [null], { class_name: 'Dense' }, 'Dense', 2 ** 53];

/** One edit deep in `value`, as `draw` says. */
function edit(value: unknown, draw: (n: number) => number): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || draw(20) === 0) return ODD[draw(ODD.length)];
    const copy = [...value];
    const i = draw(copy.length);
    if (draw(6) === 0) copy.splice(i, 1);
    else copy[i] = edit(copy[i], draw);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = { ...value };
    const keys = Object.keys(copy);
    if (keys.length === 0 || draw(20) === 0) return ODD[draw(ODD.length)];
    const key = keys[draw(keys.length)]!;
    switch (draw(6)) {
      case 0:
        delete copy[key];
        break;
      case 1:
        copy[`${key}_`] = copy[key];
        delete copy[key];
        break;
      case 2:
        copy[key] = ODD[draw(ODD.length)];
        break;
      default:
        copy[key] = edit(copy[key], draw);
    }
    return copy;
  }
  return draw(3) === 0 ? value : ODD[draw(ODD.length)];
}

/** JSON `bytes` with one to three edits of its tree. */
function editJson(bytes: Uint8Array, draw: (n: number) => number): Uint8Array {
  let tree: unknown = JSON.parse(new TextDecoder().decode(bytes));
  for (let k = 0, n = 1 + draw(3); k < n; k++) tree = edit(tree, draw);
  return new TextEncoder().encode(JSON.stringify(tree) ?? 'null');
}

// Keras's h5 weights, and its npz ones (numpy arrays, read by a restricted unpickler).
const archives = ['keras/keras-made.keras', 'keras/keras-npz.keras'].map((name) => {
  const bytes = fixture(name);
  return { bytes, members: unzipSync(bytes) };
});
const tfjsJson = fixture('tfjs/model.json');
const tfjsShard = fixture('tfjs/group1-shard1of1.bin');
const choices = fc.array(fc.nat(), { minLength: 4, maxLength: 48 });

describe('fuzzing the loaders with damaged files', () => {
  it('loadModel: a damaged .keras archive (h5 or npz weights), a damaged member, or an edited config.json', async () => {
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(1), fc.nat(2), choices, async (archive, kind, c) => {
        const draw = drawer(c);
        const { bytes: keras, members } = archives[archive]!;
        const path = join(dir, 'model.keras');
        if (kind === 0) writeFileSync(path, damage(keras, draw));
        else {
          const name = kind === 1 ? Object.keys(members)[draw(Object.keys(members).length)]! : 'config.json';
          writeFileSync(path, zipSync({ ...members, [name]: kind === 1 ? damage(members[name]!, draw) : editJson(members[name]!, draw) }));
        }
        if (await loads(() => loadModel(path))) loaded++;
      }),
      { numRuns: RUNS },
    );
    // Some damage is harmless (a byte of padding): the undamaged paths run too.
    expect(loaded).toBeGreaterThan(0);
  });

  it('loadWeights: a damaged .weights.h5', async () => {
    const model = await loadModel(fixturePath('keras/keras-made.keras'));
    const weights = fixture('keras/keras-made.weights.h5');
    await fc.assert(
      fc.asyncProperty(choices, async (c) => {
        writeFileSync(join(dir, 'model.weights.h5'), damage(weights, drawer(c)));
        await loads(() => model.loadWeights(join(dir, 'model.weights.h5')));
      }),
      { numRuns: RUNS },
    );
    model.dispose();
  });

  it('loadLayersModel: an edited or damaged model.json, or a damaged shard', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(2), choices, async (kind, c) => {
        const draw = drawer(c);
        const json = kind === 0 ? editJson(tfjsJson, draw) : kind === 1 ? damage(tfjsJson, draw) : tfjsJson;
        writeFileSync(join(dir, 'model.json'), json);
        writeFileSync(join(dir, 'group1-shard1of1.bin'), kind === 2 ? damage(tfjsShard, draw) : tfjsShard);
        await loads(() => loadLayersModel(`file://${join(dir, 'model.json')}`));
      }),
      { numRuns: RUNS },
    );
  });

  it('a model.json nested too deep for the config readers is refused, not a stack overflow', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const json = JSON.parse(new TextDecoder().decode(tfjsJson));
    for (const edit of [
      (j: any) => (j.modelTopology.config.layers[0].config.kernel_initializer = '@DEEP@'),
      (j: any) => (j.trainingConfig = '@DEEP@'),
    ]) {
      const j = structuredClone(json);
      edit(j);
      writeFileSync(join(dir, 'model.json'), JSON.stringify(j).replace('"@DEEP@"', deep));
      writeFileSync(join(dir, 'group1-shard1of1.bin'), tfjsShard);
      await expect(loadLayersModel(`file://${join(dir, 'model.json')}`)).rejects.toMatchObject({
        code: 'ERR_FERRO_VALUE',
        message: expect.stringContaining('nested at most 64 levels deep'),
      });
    }
  });

  it('the JSON a model.json may parse to but is not an object', async () => {
    for (const text of ['null', '3', '"model"', '[]', '[{"format":"layers-model"}]']) {
      writeFileSync(join(dir, 'model.json'), text);
      await expect(loadLayersModel(`file://${join(dir, 'model.json')}`)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    }
  });
});

/** `zip` with a zip64 end record and locator declaring `count` entries (fflate reads the count there). */
function withZip64Count(zip: Uint8Array, count: number): Uint8Array {
  const eocd = zip.length - 22;
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  if (view.getUint32(eocd, true) !== 0x06054b50) throw new Error('expected a zip without a comment');
  const record = new DataView(new ArrayBuffer(56 + 20));
  record.setUint32(0, 0x06064b50, true);
  record.setBigUint64(4, 44n, true);
  record.setUint16(12, 45, true);
  // The entries on this disk stay true (fflate reads only the total).
  record.setBigUint64(24, BigInt(view.getUint16(eocd + 8, true)), true);
  record.setBigUint64(32, BigInt(count), true);
  record.setBigUint64(40, BigInt(view.getUint32(eocd + 12, true)), true);
  record.setBigUint64(48, BigInt(view.getUint32(eocd + 16, true)), true);
  // The locator, just before the end record: where the zip64 record is.
  record.setUint32(56, 0x07064b50, true);
  record.setBigUint64(64, BigInt(eocd), true);
  record.setUint32(72, 1, true);
  return new Uint8Array([...zip.subarray(0, eocd), ...new Uint8Array(record.buffer), ...zip.subarray(eocd)]);
}

describe('zip entry counts', () => {
  it('a zip64 end record declaring 2^32 - 1 entries is refused at once, not looped over', async () => {
    const path = join(dir, 'count.keras');
    const keras = archives[0]!.bytes;
    // The archive still loads with its true count in the zip64 record.
    writeFileSync(path, withZip64Count(keras, Object.keys(archives[0]!.members).length));
    (await loadModel(path)).dispose();
    writeFileSync(path, withZip64Count(keras, 0xffffffff));
    const start = Date.now();
    await expect(loadModel(path)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringMatching(/declares 4294967295 zip entries; .* at most \d+/) });
    expect(Date.now() - start).toBeLessThan(1000);
    // The same inside the nested npz of npz weights.
    const { members } = archives[1]!;
    const npz = Object.keys(members).find((n) => n.endsWith('.npz'))!;
    writeFileSync(path, zipSync({ ...members, [npz]: withZip64Count(members[npz]!, 0xffffffff) }));
    await expect(loadModel(path)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringContaining('declares 4294967295 zip entries') });
  });
});
