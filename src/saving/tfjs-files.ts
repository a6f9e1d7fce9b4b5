/**
 * The files of a TensorFlow.js layers-format folder. A save is one whole
 * thing to a reader: its shards get names no other save uses (a random
 * token), are written first, and model.json, which names them, is renamed
 * into place last; only then are the shards of the model.json it replaced
 * removed. A crash or a concurrent save can leave unreferenced shards
 * behind, never a model.json that names another save's shards.
 */

import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, sep } from 'node:path';
import { FerroError, FerroIoError } from '../errors.js';
import { writeAtomically } from './atomic-write.js';
import { readWhole } from './files.js';

/**
 * Shard names this module removes once unreferenced: TensorFlow.js's own
 * (`group1-shard1of2.bin`, also what ferro-nn wrote before) and ours, with
 * a token. Nothing else in the folder is ever deleted.
 */
const SHARD_NAME = /^group\d+-shard\d+of\d+(\.[0-9a-f]{16})?\.bin$/;
/** Largest old model.json read to find the shards it names. */
const MAX_OLD_JSON = 64 * 2 ** 20;

/** The shard file names for one save: TF.js's pattern, plus a token unique to the save. */
export function shardNames(count: number): string[] {
  const token = randomBytes(8).toString('hex');
  return Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.${token}.bin`);
}

/** The shard names a model.json lists that match SHARD_NAME; none when it is missing or unreadable. */
async function listedShards(modelJson: string): Promise<string[]> {
  try {
    const json = JSON.parse(new TextDecoder().decode(await readWhole(modelJson, MAX_OLD_JSON))) as { weightsManifest?: unknown };
    const groups = Array.isArray(json.weightsManifest) ? json.weightsManifest : [];
    return groups.flatMap((g: { paths?: unknown }) => (Array.isArray(g?.paths) ? g.paths : [])).filter((p): p is string => typeof p === 'string' && SHARD_NAME.test(p));
  } catch {
    return [];
  }
}

/**
 * Writes `shards` under `paths` and then `json` as model.json into `dir`,
 * so that model.json always names shards of its own save; then removes the
 * shards the previous model.json named.
 */
export async function writeFolder(dir: string, paths: string[], shards: Uint8Array[], json: Uint8Array): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new FerroIoError(`Expected a folder for the TensorFlow.js save. Received: '${dir}' (${error instanceof Error ? error.message : String(error)})`);
  }
  const modelJson = join(dir, 'model.json');
  const old = await listedShards(modelJson);
  try {
    for (let i = 0; i < shards.length; i++) await writeAtomically(join(dir, paths[i]!), shards[i]!);
    await writeAtomically(modelJson, json);
  } catch (error) {
    await Promise.all(paths.map((p) => unlink(join(dir, p)).catch(() => undefined)));
    throw error;
  }
  // Names are never reused, so no model.json written from now on names these.
  await Promise.all(old.filter((p) => !paths.includes(p)).map((p) => unlink(join(dir, p)).catch(() => undefined)));
}

/**
 * Shard `name` of the folder `dir`, as a regular file inside it, of at most
 * `most` bytes. A symbolic link (to /dev/zero, or out of the folder), a
 * FIFO or a device is refused before it is read: the checks are made on
 * the opened descriptor (O_NOFOLLOW, O_NONBLOCK so a FIFO does not block
 * the open), so swapping the file after a check changes nothing.
 */
export async function readShard(dir: string, name: string, most: number): Promise<Uint8Array> {
  const path = join(dir, name);
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const link = await lstat(path);
    if (!link.isFile()) throw new FerroIoError(`Expected shard ${path} to be a regular file in the model's folder. Received: ${kind(link)}`);
    file = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    const stat = await file.stat();
    if (!stat.isFile()) throw new FerroIoError(`Expected shard ${path} to be a regular file in the model's folder. Received: ${kind(stat)}`);
    const [real, folder] = await Promise.all([realpath(path), realpath(dir)]);
    if (!real.startsWith(folder + sep)) throw new FerroIoError(`Expected shard ${path} inside the model's folder. Received: ${real}`);
    if (stat.size > most) throw new FerroIoError(`${path} holds ${stat.size} bytes; at most ${most} are accepted.`);
    // Exactly the size checked: a file that grows meanwhile is not read further.
    const bytes = new Uint8Array(stat.size);
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await file.read(bytes, got, bytes.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return bytes.subarray(0, got);
  } catch (error) {
    if (error instanceof FerroError) throw error;
    throw new FerroIoError(`Could not read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await file?.close();
  }
}

function kind(s: { isSymbolicLink(): boolean; isFIFO(): boolean; isDirectory(): boolean }): string {
  return s.isSymbolicLink() ? 'a symbolic link' : s.isFIFO() ? 'a FIFO' : s.isDirectory() ? 'a folder' : 'a device or socket';
}
