/**
 * File plumbing for saving: bounded reads of regular files, directories,
 * and zip archives read within declared bounds (atomic writes are in
 * atomic-write.ts).
 */

import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { type Unzipped, unzipSync, zipSync } from 'fflate';
import { FerroError, FerroIoError, FerroValueError } from '../errors.js';
import { describe } from '../validate.js';

/**
 * Reads a whole regular file, as an ERR_FERRO_IO error when it cannot, when
 * it is not a regular file, or when it holds more than `most` bytes. The
 * opened handle is checked (not the path, which may change in between), a
 * FIFO is opened without blocking, and at most `most` + 1 bytes are read
 * whatever the size says: a device such as /dev/zero reports 0 and never
 * ends, and a file may grow while it is read. With `folder`, the file must
 * also be inside it and not a symbolic link (a TensorFlow.js shard).
 */
export async function readWhole(path: string, most = Infinity, folder?: string): Promise<Uint8Array> {
  refuseUrl(path);
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    if (folder !== undefined) {
      const link = await lstat(path);
      if (!link.isFile()) throw new FerroIoError(`Expected a regular file at ${path}. Received: ${kindOf(link)}`);
    }
    const noFollow = folder === undefined ? 0 : (constants.O_NOFOLLOW ?? 0);
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | noFollow);
    const stat = await file.stat();
    if (!stat.isFile()) {
      throw new FerroIoError(`Expected a regular file at ${path}. Received: ${kindOf(stat)}`);
    }
    if (folder !== undefined) {
      // Only a race can fail this (lstat and O_NOFOLLOW refused links): the file moved after the checks.
      const [real, inside] = await Promise.all([realpath(path), realpath(folder)]);
      const rel = relative(inside, real);
      if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new FerroIoError(`Expected ${path} inside ${folder}. Received: ${real}`);
    }
    if (stat.size > most) throw new FerroIoError(`${path} holds ${stat.size} bytes; at most ${most} are accepted.`);
    const out = new Uint8Array(stat.size);
    let got = 0;
    while (got < out.length) {
      const { bytesRead } = await file.read(out, got, Math.min(out.length - got, 2 ** 30), got);
      if (bytesRead === 0) return out.subarray(0, got);
      got += bytesRead;
    }
    // One byte more means the file grew after stat: what was read is not all of it.
    const { bytesRead } = await file.read(new Uint8Array(1), 0, 1, got);
    if (bytesRead > 0) throw new FerroIoError(`${path} changed while it was read; expected ${got} bytes.`);
    return out;
  } catch (error) {
    if (error instanceof FerroError) throw error;
    throw new FerroIoError(`Could not read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await file?.close();
  }
}

/**
 * Refuses a URL where a path belongs (ERR_FERRO_VALUE): read as a path,
 * 'http://host/model.json' failed as a missing local file, and a write
 * would create a folder named 'http:'. TensorFlow.js's loaders fetch
 * http(s) and browser-storage URLs; ferro-nn reads and writes only files
 * on this machine ('file://' is stripped, for TensorFlow.js's format, before this).
 */
export function refuseUrl(path: string): void {
  // Two letters at least: 'C://dir' is a Windows drive.
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(path);
  if (scheme?.[1]?.toLowerCase() === 'file') {
    throw new FerroValueError(
      `Expected a plain path: 'file://' names a TensorFlow.js model (save('file://dir'), loadLayersModel('file://dir/model.json')). Received: ${describe(path)}`,
    );
  }
  if (scheme) {
    throw new FerroValueError(
      `Expected a path on this machine; ferro-nn does not fetch or upload URLs (${scheme[1]}://). Received: ${describe(path)}`,
    );
  }
}

/** What a file that is not a regular one is, for messages. */
export function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'something that is not a regular file';
}

/** Creates directory `path` and its parents, as ERR_FERRO_IO naming it when it cannot (a file in the way…). */
export async function makeDir(path: string): Promise<void> {
  refuseUrl(path);
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FerroIoError(`Expected a directory that can be created at ${describe(path)}. Received: ${reason}`);
  }
}

/** A zip of these members, compressed. */
export function zip(members: Record<string, Uint8Array>): Uint8Array {
  return zipSync(members, { level: 6 });
}

/** The smallest central-directory entry: its fixed fields, with empty name, extra field and comment. */
const CENTRAL_ENTRY_BYTES = 46;

/**
 * The entry count a zip's end record declares, read where fflate's unzipSync
 * reads it (the zip64 record's when there is one); 0 when there is no end
 * record, which unzipSync refuses itself.
 */
function declaredEntries(data: Uint8Array): number {
  // Bytes outside the file read as 0, as in fflate, so that both read the same count.
  const u8 = (at: number) => data[at] ?? 0;
  const u32 = (at: number) => (u8(at) | (u8(at + 1) << 8) | (u8(at + 2) << 16) | (u8(at + 3) << 24)) >>> 0;
  let end = data.length - 22;
  while (end > 0 && data.length - end <= 65558 && u32(end) !== 0x06054b50) end--;
  if (end < 0 || u32(end) !== 0x06054b50) return 0;
  let count = u8(end + 8) | (u8(end + 9) << 8);
  if (count === 0) return 0;
  if (u32(end - 20) === 0x07064b50) {
    const zip64 = u32(end - 12);
    if (u32(zip64) === 0x06064b50) count = u32(zip64 + 32);
  }
  return count;
}

/**
 * The members of a zip archive that `limit` accepts (it gives each name's
 * size limit, or undefined to skip it), refusing any whose declared size
 * exceeds its limit, or all of whose declared sizes exceed `total` (so a zip
 * bomb is refused before it is inflated), and any that inflates beyond it.
 */
export function unzipMembers(
  data: Uint8Array,
  limit: (name: string) => number | undefined,
  what: string,
  total = Infinity,
): Unzipped {
  let out: Unzipped;
  let declared = 0;
  const entries = declaredEntries(data);
  // fflate loops over the declared count, past the real entries, synchronously: 2^32 of them take half an hour.
  const most = Math.floor(data.length / CENTRAL_ENTRY_BYTES);
  if (entries > most) throw new FerroIoError(`${what} declares ${entries} zip entries; its ${data.length} bytes can hold at most ${most}.`);
  try {
    out = unzipSync(data, {
      filter: (f) => {
        const most = limit(f.name);
        if (most === undefined) return false;
        declared += f.originalSize;
        if (f.originalSize > most) {
          throw new FerroIoError(`${what}: member ${f.name} declares ${f.originalSize} bytes; at most ${most} are accepted.`);
        }
        if (declared > total) throw new FerroIoError(`${what}: its members declare more than ${total} bytes in all.`);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof FerroError) throw error;
    throw new FerroIoError(`${what} is not a readable zip archive: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const [name, member] of Object.entries(out)) {
    // A member that inflates beyond what it declared is refused too.
    if (member.length > limit(name)!) throw new FerroIoError(`${what}: member ${name} holds more than ${limit(name)} bytes.`);
  }
  return out;
}

/** Member `name` of an unzipped archive; ERR_FERRO_IO when the archive lacks it. */
export function member(members: Unzipped, name: string, what: string): Uint8Array {
  const m = members[name];
  if (!m) throw new FerroIoError(`${what} has no ${name}.`);
  return m;
}
