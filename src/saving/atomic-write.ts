/**
 * Atomic writes: a temporary file in the target's directory, flushed, then
 * renamed over the target, so that a crash mid-save leaves the previous
 * file whole and a reader never sees half a file.
 */

import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FerroIoError } from '../errors.js';
import { refuseUrl } from './files.js';

/** Ours: `.ferro-<pid>-<hex>.tmp`, short, so that any target name still fits beside it. */
const TEMPORARY = /^\.ferro-(\d+)-[0-9a-f]{8}\.tmp$/;
/** A temporary file of a process that is gone is removed once this old (a save's last write is fresher). */
const STRAY_AFTER_MS = 60_000;
/** One of a process that may still run elsewhere (a shared disk) only when this old. */
const ABANDONED_AFTER_MS = 24 * 3600_000;

/**
 * Writes `data` to `path` atomically. A symbolic link at `path` is written
 * through (its target is replaced, the link stays), and a file that exists
 * keeps its permissions. Then temporary files that killed saves left in
 * the directory are removed.
 */
export async function writeAtomically(path: string, data: Uint8Array): Promise<void> {
  refuseUrl(path);
  let tmp: string | undefined;
  try {
    const target = await throughLinks(path);
    const existing = await stat(target).catch(() => undefined);
    if (existing && !existing.isFile()) {
      // A rename would put a regular file where a device, FIFO or socket was
      // (as root, /dev/null itself), and writing into one cannot be atomic.
      throw new Error(`expected a regular file, or none yet, at ${target}; found ${kindOf(existing)}`);
    }
    const mode = existing ? existing.mode & 0o7777 : undefined;
    tmp = join(dirname(target), `.ferro-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    const file = await open(tmp, 'wx', mode ?? 0o666);
    try {
      // open's mode passes through the umask; the old file's is kept exactly.
      if (mode !== undefined) await file.chmod(mode);
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, target);
    tmp = undefined;
    await removeStrays(dirname(target));
  } catch (error) {
    if (tmp) await unlink(tmp).catch(() => undefined);
    throw new FerroIoError(`Could not write ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'no regular file';
}

/**
 * Where writing `path` lands: the file a chain of links ends at, existing or
 * not. Paths through /proc are refused: /dev/stdout's /proc/self/fd/1 names
 * whatever the stream is open on (a redirect's file, or "log (deleted)"),
 * which a save must not replace.
 */
async function throughLinks(path: string): Promise<string> {
  let at = resolve(path);
  const refuseProc = (p: string) => {
    if (p === '/proc' || p.startsWith('/proc/')) throw new Error(`expected a path outside /proc; ${path} leads to ${p}`);
  };
  for (let hops = 0; hops < 40; hops++) {
    refuseProc(at);
    const link = await lstat(at).then(
      (s) => s.isSymbolicLink(),
      () => false,
    );
    if (!link) return at;
    const next = resolve(dirname(at), await readlink(at));
    refuseProc(next);
    const existing = await realpath(at).catch(() => undefined);
    if (existing) return existing;
    // A dangling link: write the file it names.
    at = next;
  }
  throw new Error(`${basename(path)}: too many levels of symbolic links`);
}

/** Best effort: a failure here never fails the save that succeeded. */
async function removeStrays(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const now = Date.now();
  for (const name of names) {
    const pid = Number(TEMPORARY.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    const file = join(dir, name);
    const age = await lstat(file).then(
      (s) => now - s.mtimeMs,
      () => 0,
    );
    if (age > ABANDONED_AFTER_MS || (age > STRAY_AFTER_MS && !running(pid))) await unlink(file).catch(() => undefined);
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
