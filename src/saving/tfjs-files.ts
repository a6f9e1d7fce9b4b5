/**
 * The files of a TensorFlow.js layers-format folder. A save is one whole
 * thing to a reader: its shards get names no other save uses (a random
 * token), are written first, and model.json, which names them, is renamed
 * into place last; only then are the shards of the model.json it replaced
 * removed. A crash or a concurrent save can leave unreferenced shards
 * behind, never a model.json that names another save's shards.
 */

import { unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeAtomically } from './atomic-write.js';
import { makeDir, readWhole } from './files.js';

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
  await makeDir(dir);
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
 * `most` bytes: a symbolic link (to /dev/zero, or out of the folder), a FIFO
 * or a device is refused before it is read (files.ts, readWhole).
 */
export async function readShard(dir: string, name: string, most: number): Promise<Uint8Array> {
  return readWhole(join(dir, name), most, dir);
}
