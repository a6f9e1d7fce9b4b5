/**
 * A restricted reader of Python pickles, for the one place Keras writes
 * them: the arrays of its npz weights. It never calls anything: a pickle's
 * "call this global with these arguments" (REDUCE, NEWOBJ) and "set this
 * state" (BUILD) become plain records, and only globals on an allow-list
 * are accepted at all, so the result is inert data whatever the file says.
 * Every object it makes comes from an opcode read, and every length is
 * checked against the bytes left, so memory stays within a small multiple
 * of the input.
 *
 * Why by hand: what is needed is a whitelist over a small opcode subset
 * (protocols 2–5 as CPython and numpy write them); general unpicklers on
 * npm map arbitrary class names to constructors, the opposite of the goal.
 */

import { FerroValueError } from '../errors.js';

/** A call (REDUCE, NEWOBJ) of an allowed global, and the state BUILD gave the result. */
export interface PyCall {
  readonly call: string;
  readonly args: readonly PyValue[];
  state?: PyValue;
}

/** A global itself (a class or function, by its dotted name). */
export interface PyGlobal {
  readonly global: string;
}

/** What a restricted pickle can hold. Tuples and lists are both arrays. */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | Map<PyValue, PyValue> | PyCall | PyGlobal;

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

/**
 * Reads the pickle in `bytes`. `allowed` says which globals it may name
 * ("module.name"); any other is refused by name.
 */
export function unpickle(bytes: Uint8Array, allowed: (name: string) => boolean, what: string): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: Slot[] = [];
  const memo = new Map<number, PyValue>();
  let at = 0;
  const fail = (why: string): never => {
    throw new FerroValueError(`${what}: ${why} (at byte ${at} of the pickle).`);
  };
  const take = (n: number): Uint8Array => {
    if (!Number.isSafeInteger(n) || n < 0 || n > bytes.length - at) fail(`a length of ${n} runs past the end`);
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const u8 = () => take(1)[0]!;
  const u16 = () => (take(2), view.getUint16(at - 2, true));
  const u32 = () => (take(4), view.getUint32(at - 4, true));
  const i32 = () => (take(4), view.getInt32(at - 4, true));
  const u64 = () => {
    take(8);
    const n = view.getBigUint64(at - 8, true);
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? fail('a length beyond 2^53') : Number(n);
  };
  const text = (n: number) => {
    try {
      return utf8.decode(take(n));
    } catch {
      return fail('a string that is not UTF-8');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) fail('a GLOBAL without its newline');
    return text(end - at + 1).slice(0, -1);
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) return fail('an opcode found too few values');
    return v;
  };
  const top = (): PyValue => {
    const v = stack.at(-1);
    if (v === undefined || v === MARK) return fail('an opcode found no value');
    return v;
  };
  const popMark = (): PyValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('a MARK is missing');
    const items = stack.splice(i) as PyValue[];
    items.shift();
    return items;
  };
  const global = (name: string): PyGlobal => (allowed(name) ? { global: name } : fail(`refused global ${name}`));
  const call = (fn: PyValue, args: PyValue): PyCall => {
    if (fn === null || typeof fn !== 'object' || !('global' in fn)) return fail('a call of something that is not an allowed global');
    if (!Array.isArray(args)) return fail(`arguments of ${fn.global} are not a tuple`);
    return { call: fn.global, args };
  };
  const setItems = (dict: PyValue, items: PyValue[]) => {
    if (!(dict instanceof Map) || items.length % 2) return fail('SETITEMS on something that is not a dict');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i]!, items[i + 1]!);
  };
  const append = (list: PyValue, items: PyValue[]) => {
    if (!Array.isArray(list)) return fail('APPEND on something that is not a list');
    // One at a time: spreading an APPENDS of millions of items as arguments overflows the stack.
    for (const item of items) list.push(item);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('a pickle protocol above 5');
        break;
      case 0x95: // FRAME: a hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail('the pickle ended with more than one value');
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
        stack.push(op === 0x88);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        const b = take(u8());
        let n = 0n;
        for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
        if (b.length && b[b.length - 1]! & 0x80) n -= 1n << BigInt(8 * b.length);
        stack.push(Number.isSafeInteger(Number(n)) ? Number(n) : n);
        break;
      }
      case 0x47: // BINFLOAT: big-endian float64
        take(8);
        stack.push(view.getFloat64(at - 8, false));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const items = [...Array(op - 0x84)].map(pop).reverse();
        stack.push(items);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const dict = new Map<PyValue, PyValue>();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = line();
        stack.push(global(`${module}.${line()}`));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL without two strings');
        stack.push(global(`${module as string}.${name as string}`));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const target = top();
        if (target === null || typeof target !== 'object' || !('call' in target) || target.state !== undefined) {
          fail('BUILD on something that is not a fresh call');
        }
        (target as PyCall).state = state;
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        const v = memo.get(key);
        if (v === undefined) fail(`memo ${key} is unset`);
        stack.push(v!);
        break;
      }
      default:
        fail(`opcode 0x${op.toString(16)} is outside what ferro-nn reads`);
    }
  }
}
