/**
 * BackupAndRestore: a training process killed with SIGKILL at a random
 * moment and started again with the same script resumes from its last
 * completed epoch and ends with the weights of an uninterrupted run.
 * The runs are child processes, each with a time limit.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackupAndRestore, Dense, Sequential } from '../src/index.js';
import { runCapped } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/backup-child.mts', import.meta.url));
const args = (dir: string, out: string): string[] => ['--import', 'tsx', child, dir, out];

/** Runs the script to the end: its final weights and the first epoch it ran. */
async function runToEnd(dir: string, out: string): Promise<{ weights: number[][]; firstEpoch: number }> {
  // Awaited: a worker blocked past a minute misses vitest's RPC deadline.
  const r = await runCapped([child, dir, out], 120_000, 4096);
  if (r.status !== 0) throw new Error(`child failed (${r.killed ?? r.status}): ${r.stderr}`);
  const firstEpoch = Number(/epoch (\d+)/.exec(r.stdout)?.[1]);
  return { weights: JSON.parse(readFileSync(out, 'utf8')) as number[][], firstEpoch };
}

/** Starts a run and kills it `delay` ms after its first backup appears; whether it was killed before finishing. */
function killAfterFirstBackup(dir: string, out: string, delay: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args(dir, out), { stdio: 'ignore' });
    const limit = setTimeout(() => p.kill('SIGKILL'), 120_000);
    const poll = setInterval(() => {
      if (readdirSync(dir).some((f) => f.endsWith('.weights.h5'))) {
        clearInterval(poll);
        setTimeout(() => p.kill('SIGKILL'), delay);
      }
    }, 2);
    p.on('exit', (_, signal) => {
      clearInterval(poll);
      clearTimeout(limit);
      resolve(signal === 'SIGKILL');
    });
    p.on('error', reject);
  });
}

describe('BackupAndRestore', () => {
  it('a run killed mid-fit and started again ends with the weights of an uninterrupted run', { timeout: 300_000 }, async () => {
    const straightDir = mkdtempSync(join(tmpdir(), 'ferro-backup-'));
    const straight = await runToEnd(straightDir, join(straightDir, 'out.json'));
    expect(straight.firstEpoch).toBe(0);
    // A completed fit deletes its backups.
    expect(readdirSync(straightDir).filter((f) => f.endsWith('.h5'))).toEqual([]);
    for (const delay of [Math.floor(Math.random() * 150), 0]) {
      const dir = mkdtempSync(join(tmpdir(), 'ferro-backup-'));
      const out = join(dir, 'out.json');
      if (!(await killAfterFirstBackup(dir, out, delay))) continue; // finished before the kill: try a shorter delay
      expect(existsSync(out)).toBe(false);
      const backups = readdirSync(dir).filter((f) => f.endsWith('.weights.h5'));
      expect(backups.length).toBeGreaterThan(0);
      const resumed = await runToEnd(dir, out);
      // It resumed after the newest backup's epoch rather than starting over…
      expect(resumed.firstEpoch).toBe(Number(/(\d+)/.exec(backups.sort().at(-1)!)![1]) + 1);
      // …and ended where the uninterrupted run did, bit for bit.
      expect(resumed.weights).toEqual(straight.weights);
      return;
    }
    throw new Error('the run finished before it could be killed');
  });

  it('a backupDir that cannot be created is ERR_FERRO_IO naming it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferro-backup-')), 'a-file');
    writeFileSync(file, 'x');
    const model = new Sequential([new Dense(1, { inputShape: [2] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const backupDir = join(file, 'backups');
    await expect(model.fit([[1, 2]], [[3]], { verbose: 0, callbacks: [new BackupAndRestore({ backupDir })] })).rejects.toMatchObject({
      code: 'ERR_FERRO_IO',
      message: expect.stringMatching(new RegExp(`^Expected a directory that can be created at '${backupDir}'. Received: ENOTDIR`)),
    });
  });

  it('options are checked', () => {
    expect(() => new BackupAndRestore({ backupDir: 3 as never })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_TYPE' }));
    expect(new BackupAndRestore({ backupDir: 'b' }).deleteCheckpoint).toBe(true);
  });
});
