/**
 * Keras 3's weights file (model.weights.h5) through h5wasm, the HDF5 C
 * library compiled to WebAssembly (loaded on first use: it is 4 MB).
 * Layout (see vars.ts): a group `<path>/vars` per saveable object, with a
 * `name` attribute and its variables as datasets `0`, `1`, … in order.
 *
 * HDF5 only ever sees h5wasm's in-memory file system, never the host's:
 * whatever a hostile file names (an external link, external raw data, a
 * virtual dataset's sources) it cannot reach a file, a FIFO or a device
 * on the machine, and nothing is written to disk but the caller's file.
 */

import { randomBytes } from 'node:crypto';
import { FerroError, FerroIoError, FerroValueError } from '../errors.js';
import { checkedVars, type Numbers, type VarReader, varReader } from './vars.js';

/** A variable to write: float32, or int64 (the iteration count, as Keras keeps it), or int32. */
export interface H5Var {
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array;
}

/** The objects to write: path of the group (e.g. 'layers/dense') → its name attribute and variables. */
export type H5Objects = [path: string, name: string, vars: H5Var[]][];

type H5 = typeof import('h5wasm').default;
/** The part of Emscripten's in-memory file system used here. */
interface MemoryFs {
  writeFile(path: string, data: Uint8Array): void;
  readFile(path: string): Uint8Array;
  unlink(path: string): void;
}
let loading: Promise<{ h5: H5; fs: MemoryFs }> | undefined;

/** h5wasm's build for any JavaScript host (not its Node build, which opens host paths). */
async function h5wasm(): Promise<{ h5: H5; fs: MemoryFs }> {
  loading ??= import('h5wasm').then(async (m) => {
    const module = await m.default.ready;
    // HDF5 errors become JavaScript exceptions carrying HDF5's diagnostics,
    // instead of diagnostics printed to stderr and a call that goes on.
    module.activate_throwing_error_handler();
    return { h5: m.default, fs: (module as unknown as { FS: MemoryFs }).FS };
  });
  return loading;
}

/**
 * Runs `use` on a fresh path of the in-memory file system, and removes what
 * it left there. `use` is synchronous, so the file is gone before another
 * call can run and the shared file system never holds more than one.
 */
function inMemory<T>(fs: MemoryFs, use: (path: string) => T): T {
  const path = `/ferro-nn-${randomBytes(8).toString('hex')}.h5`;
  try {
    return use(path);
  } finally {
    try {
      fs.unlink(path);
    } catch {
      // Never created: the file could not be opened.
    }
  }
}

/**
 * The most bytes one weight may take in an HDF5 file: h5wasm's WebAssembly
 * heap is capped at 2 GiB, and it copies a dataset whole through that heap
 * to write or read it (beside HDF5's own buffers, so a weight a little
 * under this may still not fit). Keras's npz weights are read without it.
 */
export const MAX_H5_WEIGHT_BYTES = 2 ** 31;

/** Bytes per element of the dtypes ferro-nn writes and reads. */
const ELEMENT_BYTES: Record<string, number> = { '<f': 4, '<d': 8, '<i': 4, '<q': 8 };

/** The refusal of a weight of `bytes` bytes that h5wasm cannot hold; `where` names it. */
function tooLarge(bytes: number, where: string): FerroValueError {
  return new FerroValueError(
    `Expected each weight to fit in the memory of h5wasm (HDF5 as WebAssembly, which .keras and .weights.h5 files go through): under 2 GiB (${MAX_H5_WEIGHT_BYTES} bytes), with HDF5's own buffers. Received: ${bytes} bytes in ${where}`,
  );
}

/** A variable to write, as a refusal names it. */
const writtenVar = (groupPath: string, name: string, i: number, shape: number[]): string =>
  `'${name}' (${groupPath}/vars/${i}, shape [${shape.join(', ')}])`;

/** Whether h5wasm failed to allocate its heap (its own messages), not the file. */
const isAllocation = (error: unknown): boolean =>
  error instanceof Error && /^(Requested allocation of \d+ bytes exceeds maximum memory|Memory allocation of \d+ bytes failed)/.test(error.message);

/** HDF5's reason for an error (its last 'minor:' line), or the message itself. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const minor = [...message.matchAll(/minor: (.+)/g)].at(-1)?.[1]?.trim();
  return minor ?? message;
}

/** The bytes of an HDF5 file holding `objects` in Keras's layout. */
export async function writeH5(objects: H5Objects): Promise<Uint8Array> {
  // Before any work: a weight h5wasm cannot hold fails late and uncoded otherwise.
  for (const [groupPath, name, vars] of objects) {
    vars.forEach((v, i) => {
      const bytes = v.shape.reduce((a, b) => a * b, 1) * v.data.BYTES_PER_ELEMENT;
      if (bytes >= MAX_H5_WEIGHT_BYTES) throw tooLarge(bytes, writtenVar(groupPath, name, i, v.shape));
    });
  }
  const { h5, fs } = await h5wasm();
  return inMemory(fs, (path) => {
    const file = new h5.File(path, 'w');
    let at = '';
    try {
      for (const [groupPath, name, vars] of objects) {
        let group: InstanceType<H5['Group']> = file;
        for (const part of [...groupPath.split('/').filter(Boolean), 'vars']) {
          const existing = group.get(part);
          group = existing instanceof h5.Group ? existing : group.create_group(part);
        }
        group.create_attribute('name', name);
        vars.forEach((v, i) => {
          const dtype = v.data instanceof BigInt64Array ? '<q' : v.data instanceof Int32Array ? '<i' : '<f';
          // A scalar (shape []) is written as one: Keras reads iteration and learning_rate so.
          const data = v.shape.length === 0 ? v.data.subarray(0, 1) : v.data;
          at = writtenVar(groupPath, name, i, v.shape);
          group.create_dataset({ name: String(i), data, shape: v.shape, dtype });
        });
      }
    } catch (error) {
      // Under the limit, the heap may still be too full for a weight.
      if (isAllocation(error)) throw tooLarge(Number(/\d+/.exec((error as Error).message)![0]), at);
      throw error;
    } finally {
      file.close();
    }
    return fs.readFile(path);
  });
}

/**
 * Opens HDF5 `bytes` for `use`, which reads synchronously (a promise it
 * returned would outlive the file); the file is gone afterwards.
 */
export async function readH5<T>(bytes: Uint8Array, what: string, use: (r: VarReader) => T): Promise<T> {
  const { h5, fs } = await h5wasm();
  return inMemory(fs, (path) => {
    fs.writeFile(path, bytes);
    let file: InstanceType<H5['File']>;
    try {
      file = new h5.File(path, 'r');
    } catch (error) {
      throw new FerroIoError(`${what} is not a readable HDF5 file: ${reason(error)}`);
    }
    try {
      const cache: PathCache = new Map([['', { found: file }]]);
      const at = (path: string) => inFile(h5, path, what, cache);
      const group = (groupPath: string): InstanceType<H5['Group']> | undefined => {
        const g = at(`${groupPath}/vars`);
        return g instanceof h5.Group ? g : undefined;
      };
      const dataset = (g: InstanceType<H5['Group']>, i: number): InstanceType<H5['Dataset']> | undefined => {
        const d = at(`${g.path}/${i}`);
        if (!(d instanceof h5.Dataset)) return undefined;
        checkStorage(d, `${what}: ${d.path}`);
        return d;
      };
      const FLOATS = ['<f', '<d'];
      const INTS = ['<i', '<q'];
      const described = (groupPath: string, shapes: number[][], label: string, integers: boolean) => {
        const g = group(groupPath);
        const vars = checkedVars(what, label, groupPath, g?.keys().length, shapes, integers, (i) => {
          const d = dataset(g!, i);
          if (!d) return undefined;
          const dtype = String(d.dtype);
          const kind = FLOATS.includes(dtype) ? 'float' : INTS.includes(dtype) ? 'int' : undefined;
          return { shape: d.shape ?? [], dtype, kind, read: () => numbers(d.value, kind === 'int', `${what}: ${label} variable ${i}`) };
        });
        // Checked with the shapes, before anything is read (or a model built
        // for the file): such a file is sound, but h5wasm cannot read it.
        vars.forEach((v, i) => {
          const bytes = v.shape.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[v.dtype]!;
          if (bytes >= MAX_H5_WEIGHT_BYTES) throw tooLarge(bytes, `${what}: ${label} variable ${i}`);
        });
        return vars;
      };
      const reader = varReader((groupPath) => group(groupPath)?.keys().length ?? 0, described);
      try {
        return use(reader);
      } catch (error) {
        if (error instanceof FerroError) throw error;
        if (isAllocation(error)) throw tooLarge(Number(/\d+/.exec((error as Error).message)![0]), what);
        // h5wasm reports a damaged file as a plain Error from deep inside.
        throw new FerroIoError(`${what} could not be read as HDF5: ${reason(error)}`);
      }
    } finally {
      file.close();
    }
  });
}

/** What inFile found in one open file: each path's object, and each group's member names. */
type H5Object = InstanceType<H5['Group']> | InstanceType<H5['Dataset']>;
type PathCache = Map<string, { found: H5Object | undefined; keys?: Set<string> }>;

/**
 * The group or dataset at `path`, reached through hard links only. A soft
 * or external link is refused before it is followed: an external link
 * names any file on the host (and opening a FIFO would block in wasm), and
 * Keras writes neither. `cache` remembers what was found along the way, so
 * that reading every layer of a model does not list the `layers` group
 * once per variable (quadratic in the number of layers).
 */
function inFile(h5: H5, path: string, what: string, cache: PathCache): H5Object | undefined {
  // The root's entry is there from the start (readH5).
  let entry = cache.get('')!;
  let prefix = '';
  for (const part of path.split('/').filter(Boolean)) {
    const full = `${prefix}/${part}`;
    let next = cache.get(full);
    if (!next) {
      const group: H5Object | undefined = entry.found;
      if (!(group instanceof h5.Group)) return undefined;
      entry.keys ??= new Set(group.keys());
      if (!entry.keys.has(part)) return undefined;
      // Both read the link itself, where get() would follow it.
      const soft: unknown = group.get_link(full);
      const external = group.get_external_link(full) as { filename?: string; obj_path?: string } | null;
      if (soft !== null && soft !== undefined) {
        throw new FerroValueError(`Expected groups and datasets stored in ${what}. Received: a soft link ${full} -> ${String(soft)}`);
      }
      if (external?.filename !== undefined) {
        throw new FerroValueError(
          `Expected groups and datasets stored in ${what}. Received: an external link ${full} -> ${external.filename}:${external.obj_path}`,
        );
      }
      const got: unknown = group.get(full);
      next = { found: got instanceof h5.Group || got instanceof h5.Dataset ? got : undefined };
      cache.set(full, next);
    }
    if (!next.found) return undefined;
    entry = next;
    prefix = full;
  }
  return entry.found;
}

/**
 * Refuses a dataset whose storage could cost more than its data: chunks
 * larger than the dataset (HDF5 allocates and inflates whole chunks, so a
 * few bytes declaring one huge chunk grow the heap by gigabytes), or a
 * virtual dataset (its data lives in other files).
 */
function checkStorage(d: InstanceType<H5['Dataset']>, label: string): void {
  const { shape, chunks, virtual_sources: sources } = d.metadata;
  if (sources !== undefined) throw new FerroValueError(`Expected a dataset stored in the file. Received: a virtual dataset, ${label}`);
  const dims = shape ?? [];
  if (chunks && (chunks.length !== dims.length || chunks.some((c, k) => c > Math.max(1, dims[k]!)))) {
    throw new FerroValueError(
      `Expected chunks no larger than the dataset [${dims.join(', ')}]. Received: chunks [${chunks.join(', ')}] in ${label}`,
    );
  }
}

/**
 * A dataset's value (as h5wasm gives it) as float32, or for integers as
 * float64, which holds a step count exactly where float32 rounds past 2^24.
 */
function numbers(v: unknown, integer: boolean, label: string): Numbers {
  // h5wasm gives a scalar as a number, whatever its dtype.
  if (typeof v === 'number') return integer ? Float64Array.of(v) : Float32Array.of(v);
  if (typeof v === 'bigint') return Float64Array.of(Number(v));
  if (v instanceof Float32Array) return v;
  if (v instanceof Float64Array) return Float32Array.from(v);
  if (v instanceof Int32Array) return Float64Array.from(v);
  if (v instanceof BigInt64Array) return Float64Array.from(v, Number);
  throw new FerroValueError(`${label} could not be read as numbers.`);
}
