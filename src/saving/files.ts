/**
 * File plumbing for saving: atomic writes (a temporary file in the target's
 * directory, flushed, then renamed over it, so a crash mid-save leaves the
 * previous file whole) and zip archives read within declared bounds.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { type Unzipped, unzipSync, zipSync } from 'fflate';
import { FerroError, FerroIoError } from '../errors.js';

/** Writes `data` to `path` atomically. */
export async function writeAtomically(path: string, data: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const file = await open(tmp, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw new FerroIoError(`Could not write ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Reads a whole file, as an ERR_FERRO_IO error when it cannot. */
export async function readWhole(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new FerroIoError(`Could not read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A zip of these members, compressed. */
export function zip(members: Record<string, Uint8Array>): Uint8Array {
  return zipSync(members, { level: 6 });
}

/**
 * The members `wanted` of a zip archive, refusing any whose declared size
 * exceeds its limit (so a zip bomb is refused before it is inflated) and
 * any member the archive lacks. `veto` sees every member's name first and
 * may refuse the archive for it.
 */
export function unzipMembers(
  data: Uint8Array,
  wanted: Record<string, number>,
  what: string,
  veto: (name: string) => FerroError | undefined = () => undefined,
): Unzipped {
  let out: Unzipped;
  try {
    out = unzipSync(data, {
      filter: (f) => {
        const refused = veto(f.name);
        if (refused) throw refused;
        const limit = wanted[f.name];
        if (limit === undefined) return false;
        if (f.originalSize > limit) {
          throw new FerroIoError(`${what}: member ${f.name} declares ${f.originalSize} bytes; at most ${limit} are accepted.`);
        }
        return true;
      },
    });
  } catch (error) {
    if (error instanceof FerroError) throw error;
    throw new FerroIoError(`${what} is not a readable zip archive: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const [name, limit] of Object.entries(wanted)) {
    const member = out[name];
    if (!member) throw new FerroIoError(`${what} has no ${name}.`);
    // A member that inflates beyond what it declared is refused too.
    if (member.length > limit) throw new FerroIoError(`${what}: member ${name} holds more than ${limit} bytes.`);
  }
  return out;
}

/** Runs `use` with a fresh private directory, removed afterwards. */
export async function withScratchDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ferro-nn-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
