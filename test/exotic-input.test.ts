/**
 * Exotic values where a tensor belongs get a coded error, never a crash:
 * proxies, fake prototypes, throwing getters, holes, detached and shrunk
 * buffers, typed arrays of other types, symbols, functions… through
 * new Tensor, fit, predict and evaluate. Self-containing and very deep
 * arrays run in a child process, so that a regression (a fatal V8 error,
 * a stack overflow, a hang) fails this file instead of killing the runner.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Dense, type ErrorCode, FerroError, Sequential, Tensor } from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A resizable ArrayBuffer, typed here since the project's lib (ES2022) predates them. */
const ResizableBuffer = ArrayBuffer as unknown as new (
  length: number,
  options: { maxByteLength: number },
) => ArrayBuffer & { resize(length: number): void };

function detach(buffer: ArrayBuffer): void {
  structuredClone(buffer, { transfer: [buffer] });
}

function detached(): Float32Array {
  const buffer = new ArrayBuffer(16);
  const view = new Float32Array(buffer);
  detach(buffer);
  return view;
}

/** A fixed-length view that its resizable buffer shrank below. */
function shrunk(): Float32Array {
  const buffer = new ResizableBuffer(16, { maxByteLength: 32 });
  const view = new Float32Array(buffer, 0, 4);
  buffer.resize(8);
  return view;
}

function throwingGetter(thrown: unknown = new Error('boom')): number[][] {
  const row = [3, 4];
  Object.defineProperty(row, 1, {
    get() {
      throw thrown;
    },
  });
  return [[1, 2], row];
}

function holes(): number[][] {
  const row: number[] = new Array(2);
  row[0] = 3;
  return [[1, 2], row];
}

function revokedProxy(): unknown {
  const { proxy, revoke } = Proxy.revocable([[1, 2]], {});
  revoke();
  return proxy;
}

/** Traps that all throw: nothing may call one. */
function hostileProxy(): unknown {
  const trap = (): never => {
    throw new Error('trapped');
  };
  return new Proxy([[1, 2]], { get: trap, has: trap, getPrototypeOf: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
}

function detachedSince(): Tensor {
  const buffer = new ArrayBuffer(16);
  const t = new Tensor(new Float32Array(buffer), [2, 2]);
  detach(buffer);
  return t;
}

/** A float32 Tensor converted lazily (by asType) from bytes whose buffer was detached since. */
function lazyFromDetached(): Tensor {
  const buffer = new ArrayBuffer(4);
  const t = new Tensor(new Uint8Array(buffer), [2, 2]).asType('float32');
  detach(buffer);
  return t;
}

const TYPE: ErrorCode = 'ERR_FERRO_TYPE';
const VALUE: ErrorCode = 'ERR_FERRO_VALUE';

/** Each value, made afresh for every call (detaching is once only), and the code it gets. */
const refused: [name: string, make: () => unknown, code: ErrorCode][] = [
  ['a Proxy of a Float32Array', () => new Proxy(new Float32Array(4), {}), TYPE],
  ['a Proxy of nested arrays', () => new Proxy([[1, 2], [3, 4]], {}), TYPE],
  ['a Proxy inside nested arrays', () => [[1, 2], new Proxy([3, 4], {})], TYPE],
  ['a revoked Proxy', revokedProxy, TYPE],
  ['a Proxy whose every trap throws', hostileProxy, TYPE],
  ['a Proxy of a Tensor', () => new Proxy(new Tensor([[1, 2], [3, 4]]), {}), TYPE],
  ['an object that inherits from a hostile Proxy', () => Object.create(hostileProxy() as object), TYPE],
  ["an object with Float32Array's prototype", () => Object.create(Float32Array.prototype), TYPE],
  ["an object with Tensor's prototype", () => Object.create(Tensor.prototype), TYPE],
  ['an element getter that throws', () => throwingGetter(), TYPE],
  ['an element getter that throws a hostile Proxy', () => throwingGetter(hostileProxy()), TYPE],
  ['a sparse array (a hole)', holes, TYPE],
  ['a symbol, a bigint, a string, a boolean inside nested arrays', () => [[Symbol('s'), 1n], ['1', true]], TYPE],
  ['a Float32Array over a detached ArrayBuffer', detached, VALUE],
  ['a Float32Array its resizable ArrayBuffer shrank below', shrunk, VALUE],
  ['a Tensor whose ArrayBuffer was detached since', detachedSince, VALUE],
  ['a Float64Array', () => new Float64Array(4), TYPE],
  ['an Int8Array', () => new Int8Array(4), TYPE],
  ['an Int16Array', () => new Int16Array(4), TYPE],
  ['a Uint16Array', () => new Uint16Array(4), TYPE],
  ['a Uint32Array', () => new Uint32Array(4), TYPE],
  ['a Uint8ClampedArray', () => new Uint8ClampedArray(4), TYPE],
  ['a BigInt64Array', () => new BigInt64Array(4), TYPE],
  ['a BigUint64Array', () => new BigUint64Array(4), TYPE],
  ['a DataView', () => new DataView(new ArrayBuffer(16)), TYPE],
  ['an ArrayBuffer', () => new ArrayBuffer(16), TYPE],
  ['a symbol', () => Symbol('x'), TYPE],
  ['a function', () => () => [[1, 2]], TYPE],
  ['null', () => null, TYPE],
  ['undefined', () => undefined, TYPE],
  ['an object with a length', () => ({ length: 2, 0: [1, 2], 1: [3, 4] }), TYPE],
  ['a string', () => '[[1, 2], [3, 4]]', TYPE],
  ['a bigint', () => 4n, TYPE],
];

/** The code of what f threw or rejected with, after checking it is a FerroError that says expected and received. */
async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (error) {
    expect(error).toBeInstanceOf(FerroError);
    expect((error as Error).message).toMatch(/^(Expected [\s\S]+\. Received: |Unknown [\s\S]+\. Expected one of: )/);
    return (error as FerroError).code;
  }
  return 'no error';
}

describe('exotic values where a tensor belongs', () => {
  const x = new Tensor([[0, 1], [1, 0]]);
  const y = [0, 1];
  const model = new Sequential([new Dense(4, { activation: 'relu' }), new Dense(2, { activation: 'softmax' })]);
  model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
  beforeAll(() => model.fit(x, y, { verbose: 0 }));

  it.each(refused)('%s', async (_, make, code) => {
    const calls = {
      'new Tensor': () => new Tensor(make() as never),
      'fit x': () => model.fit(make() as never, y, { verbose: 0 }),
      'fit y': () => model.fit(x, make() as never, { verbose: 0 }),
      'fit validationData': () => model.fit(x, y, { verbose: 0, validationData: [make() as never, y] }),
      predict: () => model.predict(make() as never),
      'evaluate x': () => model.evaluate(make() as never, y),
      'evaluate y': () => model.evaluate(x, make() as never),
    };
    const codes: Record<string, string> = {};
    for (const [call, f] of Object.entries(calls)) {
      // The constructor takes data, not Tensors.
      if (call === 'new Tensor' && make === detachedSince) continue;
      codes[call] = await codeOf(f);
    }
    expect(Object.values(codes).every((c) => c === code), JSON.stringify(codes)).toBe(true);
    // Nothing above hurt the model.
    expect((await model.predict(x)).shape).toEqual([2, 2]);
  });

  it('accepts what is odd but sound: extra properties, shared rows, length-tracking views, a lying length, subclasses', async () => {
    const extra = Object.assign([[0, 1], [1, 0]], { note: 'hi' });
    await expect(model.fit(extra, Object.assign([0, 1], { note: 'hi' }), { verbose: 0 })).resolves.toBeDefined();
    const row = [1, 2];
    expect(new Tensor([row, row, row]).shape).toEqual([3, 2]);
    const buffer = new ResizableBuffer(16, { maxByteLength: 32 });
    const tracking = new Float32Array(buffer);
    buffer.resize(8);
    expect(new Tensor(tracking).shape).toEqual([2]);
    const lying = Object.defineProperty(new Float32Array(4), 'length', { value: 1e9 });
    expect(new Tensor(lying).size).toBe(4);
    class Floats extends Float32Array {}
    expect(new Tensor(new Floats(4), [2, 2]).dtype).toBe('float32');
    expect(new Tensor(Buffer.from([1, 2])).dtype).toBe('uint8');
  });

  it('a Tensor whose length-tracking view grew or shrank since is refused', async () => {
    const buffer = new ResizableBuffer(16, { maxByteLength: 32 });
    const t = new Tensor(new Float32Array(buffer), [2, 2]);
    buffer.resize(32);
    expect(await codeOf(() => model.predict(t))).toBe(VALUE);
    buffer.resize(8);
    expect(await codeOf(() => model.predict(t))).toBe(VALUE);
  });

  it('proxies (even revoked ones) where the API takes arrays or options', async () => {
    const revoked = (): never => revokedProxy() as never;
    const calls: Record<string, () => unknown> = {
      'validationData': () => model.fit(x, y, { verbose: 0, validationData: revoked() }),
      'fit options': () => model.fit(x, y, revoked()),
      'callbacks': () => model.fit(x, y, { verbose: 0, callbacks: revoked() }),
      'setWeights list': () => model.setWeights(revoked()),
      'layer setWeights list': () => model.layers[0]!.setWeights(revoked()),
      'build shape': () => model.build(revoked()),
      'predict options': () => model.predict(x, revoked()),
      'Sequential layers': () => new Sequential(revoked()),
      'compile args': () => model.compile(revoked()),
    };
    for (const [call, f] of Object.entries(calls)) expect(await codeOf(f), call).toBe(TYPE);
    expect((await model.predict(x)).shape).toEqual([2, 2]);
  });

  it('shapes and dtypes: proxies, holes, too many dimensions, symbols', async () => {
    const data = new Float32Array(4);
    expect(await codeOf(() => new Tensor(data, new Proxy([2, 2], {})))).toBe(TYPE);
    expect(await codeOf(() => new Tensor(data, [2, , 2] as never))).toBe(TYPE);
    expect(await codeOf(() => new Tensor(data, new Array(33).fill(1)))).toBe('ERR_FERRO_SHAPE');
    expect(await codeOf(() => new Tensor(data).reshape(new Array(1e6).fill(1)))).toBe('ERR_FERRO_SHAPE');
    expect(await codeOf(() => new Tensor(data as never, undefined, Symbol('float32') as never))).toBe(TYPE);
    expect(await codeOf(() => new Tensor([1, 2], undefined, Symbol('float32') as never))).toBe(VALUE);
    expect(new Tensor(new Float32Array(1), new Array(32).fill(1)).rank).toBe(32);
  });

  it("a Tensor's own methods refuse it once its buffer was detached, with a code; an asType copy made before keeps working", async () => {
    const methods: Record<string, (t: Tensor) => unknown> = {
      toArray: (t) => t.toArray(),
      div: (t) => t.div(2),
      mul: (t) => t.mul(2),
      argMax: (t) => t.argMax(),
      'asType int32': (t) => t.asType('int32'),
      'asType uint8': (t) => t.asType('uint8'),
      slice: (t) => t.slice(0, 1),
      reshape: (t) => t.reshape([4]),
      data: (t) => t.data,
    };
    for (const [name, call] of Object.entries(methods)) {
      expect(await codeOf(() => call(detachedSince())), name).toBe(name === 'data' ? 'no error' : VALUE);
      // asType copied the bytes: detaching its source leaves the copy whole.
      expect(await codeOf(() => call(lazyFromDetached())), `${name}, lazily converted`).toBe('no error');
    }
  });

  it('toArray() of a tensor without values but with a huge leading dimension is refused, not built', async () => {
    expect(new Tensor(new Float32Array(0), [1000, 0]).toArray()).toHaveLength(1000);
    for (const rows of [2 ** 29, 2 ** 33]) {
      expect(await codeOf(() => new Tensor(new Float32Array(0), [rows, 0]).toArray())).toBe(VALUE);
    }
  });

  it('messages name what was received', async () => {
    const message = async (value: unknown): Promise<string> => {
      try {
        await model.predict(value as never);
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    };
    expect(await message(new Float64Array(4))).toMatch(/Received: a Float64Array; convert it first, e\.g\. Float32Array\.from/);
    expect(await message(Object.create(Float32Array.prototype))).toMatch(/not a real Float32Array/);
    expect(await message(Object.create(Tensor.prototype))).toMatch(/a Tensor from another copy of ferro-nn, or not made by its constructor/);
    expect(await message(new Proxy([[1, 2]], {}))).toMatch(/Received: a Proxy/);
    expect(await message(throwingGetter())).toMatch(/reading values\[1\]\[1\] threw an Error: boom/);
    expect(await message(holes())).toMatch(/Expected a number at values\[1\]\[1\]\. Received: undefined/);
    expect(await message(Symbol('s'))).toMatch(/Received: Symbol\(s\)/);
  });
});

/** In a child process: the values that used to take the process down. */
const dangerous = `
const { Dense, Sequential, Tensor } = await import(${JSON.stringify(`${root}src/index.js`)});
const model = new Sequential([new Dense(4), new Dense(2, { activation: 'softmax' })]);
model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
const x = [[0, 1], [1, 0]];
await model.fit(x, [0, 1], { verbose: 0 });
const selfContaining = () => { const a = []; a.push(a, a); return a; };
const cycleInLaterRow = () => { const a = [[1, 2], null]; a[1] = a; return a; };
const deep = () => { let a = [1]; for (let i = 0; i < 100000; i++) a = [a]; return a; };
const sharedRows = () => { let a = [1, 1]; for (let i = 0; i < 31; i++) a = [a, a]; return a; };
const codes = {};
for (const [name, make] of Object.entries({ selfContaining, cycleInLaterRow, deep, sharedRows })) {
  const calls = [
    () => new Tensor(make()),
    () => model.fit(make(), [0, 1], { verbose: 0 }),
    () => model.predict(make()),
    () => model.evaluate(x, make()),
  ];
  codes[name] = [];
  for (const call of calls) {
    try {
      await call();
      codes[name].push('no error');
    } catch (error) {
      codes[name].push(error?.constructor?.name + ' ' + error?.code);
    }
  }
}
console.log(JSON.stringify(codes));
`;

describe('self-containing and very deep arrays (in a child process)', () => {
  it('are refused with coded errors, in bounded time and memory', () => {
    const child = spawnSync(
      process.execPath,
      ['--max-old-space-size=512', '--import', 'tsx', '--input-type=module', '-e', dangerous],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.error, 'the child timed out').toBeUndefined();
    expect(child.status, child.stderr.slice(-2000)).toBe(0);
    const codes = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
    expect(codes).toEqual({
      selfContaining: Array(4).fill('FerroValueError ERR_FERRO_VALUE'),
      cycleInLaterRow: Array(4).fill('FerroValueError ERR_FERRO_VALUE'),
      deep: Array(4).fill('FerroShapeError ERR_FERRO_SHAPE'),
      sharedRows: Array(4).fill('FerroValueError ERR_FERRO_VALUE'),
    });
  });
});
