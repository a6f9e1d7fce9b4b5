/**
 * The restricted pickle reader behind Keras's npz weights, against pickles
 * CPython and numpy made (test/golden/pickles.json, from
 * test/golden/pickles.py): plain values at each protocol, numpy arrays as
 * np.save pickles them, and hostile files, which are refused, never run.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALLOWED, variable } from '../src/saving/npz.js';
import { type PyValue, unpickle } from '../src/saving/pickle.js';

const golden = JSON.parse(readFileSync(new URL('./golden/pickles.json', import.meta.url), 'utf8')) as {
  plain: Record<string, string>;
  expected_plain: unknown;
  arrays: Record<string, string>;
  expected_arrays: Record<string, number[]>;
  evil: string;
  evil_protocol2: string;
};
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const anything = () => true;

/** A PyValue as JSON-like data: dicts as objects, bytes as arrays, big ints as strings. */
function plain(v: PyValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  return typeof v === 'bigint' ? String(v) : v;
}

describe('restricted unpickler', () => {
  it('reads what CPython pickles at protocols 3, 4 and 5', () => {
    for (const p of ['protocol3', 'protocol4', 'protocol5']) {
      expect(plain(unpickle(bytes(golden.plain[p]!), anything, p)), p).toEqual(golden.expected_plain);
    }
  });

  it('refuses a call it was not allowed, by name: protocol 2 bytes, os.system', () => {
    const none = () => false;
    expect(() => unpickle(bytes(golden.plain.protocol2!), none, 'p2')).toThrow(/refused global _codecs\.encode/);
    for (const evil of [golden.evil, golden.evil_protocol2]) {
      expect(() => unpickle(bytes(evil), ALLOWED, 'evil')).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringMatching(/refused global (posix|os)\.system/) }));
    }
  });

  it('reads numpy arrays as np.save pickles them, refusing the orders Keras never writes', () => {
    for (const [name, hex] of Object.entries(golden.arrays)) {
      const kind = name.split('/')[0]!;
      const read = () => variable(unpickle(bytes(hex), ALLOWED, name), name);
      if (kind === 'big_endian' || kind === 'fortran') {
        expect(read, name).toThrow(kind === 'fortran' ? /Fortran/ : /little-endian/);
        continue;
      }
      const v = read();
      expect([...v.read()], name).toEqual(golden.expected_arrays[kind]);
      expect(v.shape, name).toEqual(kind === 'f4' ? [2, 3] : kind === 'f8' ? [2] : []);
    }
  });

  it('truncated, cyclic and oversized pickles get ERR_FERRO_VALUE, in bounded memory', () => {
    const f4 = bytes(golden.arrays['f4/protocol4']!);
    for (let cut = 1; cut < f4.length; cut += 7) {
      expect(() => variable(unpickle(f4.subarray(0, cut), ALLOWED, 'cut'), 'cut'), `cut at ${cut}`).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    }
    // BINBYTES8 declaring 2^52 bytes: refused before anything is allocated.
    const huge = Uint8Array.of(0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0x10, 0, 0x2e);
    expect(() => unpickle(huge, ALLOWED, 'huge')).toThrow(/runs past the end/);
    // A list holding itself: EMPTY_LIST, DUP, APPEND, STOP.
    const cycle = unpickle(Uint8Array.of(0x80, 4, 0x5d, 0x32, 0x61, 0x2e), ALLOWED, 'cycle');
    expect(() => variable(cycle, 'cycle')).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    // An unknown opcode (PERSID) is named.
    expect(() => unpickle(Uint8Array.of(0x80, 4, 0x51, 0x2e), ALLOWED, 'persid')).toThrow(/opcode 0x51/);
  });

  it('an APPENDS of millions of items builds the list, not a stack overflow', () => {
    const n = 3_000_000;
    // PROTO 4, EMPTY_LIST, MARK, NONE × n, APPENDS, STOP.
    const pickle = new Uint8Array(n + 6).fill(0x4e);
    pickle.set([0x80, 4, 0x5d, 0x28]);
    pickle.set([0x65, 0x2e], n + 4);
    const list = unpickle(pickle, ALLOWED, 'appends');
    expect(Array.isArray(list) && list.length).toBe(n);
  });

  it("dtype names that are Object.prototype's members are refused like any unknown dtype", () => {
    const f4 = Buffer.from(golden.arrays['f4/protocol4']!, 'hex');
    const at = f4.indexOf(Buffer.from([0x8c, 2, 0x66, 0x34])); // SHORT_BINUNICODE 'f4'
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      // FRAME's length is a hint only: the longer string needs no other change.
      const pickle = Buffer.concat([f4.subarray(0, at), Buffer.from([0x8c, name.length]), Buffer.from(name), f4.subarray(at + 4)]);
      const read = () => variable(unpickle(pickle, ALLOWED, name), name);
      expect(read, name).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining(`dtype '${name}'`) }));
    }
  });
});
