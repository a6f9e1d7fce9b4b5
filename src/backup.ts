/** BackupAndRestore: Keras's fault-tolerance callback. */

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseCallback } from './callbacks.js';
import type { ResumesTraining } from './fit.js';
import { makeDir, refuseUrl } from './saving/files.js';
import { checkBoolean, checkOptions, checkString, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const BACKUP_OPTIONS = optionNames<BackupAndRestoreOptions>()(['backupDir', 'deleteCheckpoint']);

/** Options of `new BackupAndRestore(options)`: Keras's arguments in camelCase. */
export interface BackupAndRestoreOptions {
  /** The directory the backups live in (created when missing). */
  backupDir: string;
  /** Delete the backups once fit completes. Default true. */
  deleteCheckpoint?: boolean;
}

/** One backup per completed epoch; the file name carries the epoch, so the file is the whole record. */
const BACKUP = /^epoch-(\d{6})\.weights\.h5$/;
const name = (epoch: number): string => `epoch-${String(epoch).padStart(6, '0')}.weights.h5`;

/**
 * Keras's BackupAndRestore: after every epoch the weights and the
 * optimizer's state are saved in `backupDir` (atomically, one file named by
 * its epoch); a fit that starts and finds a backup (the process was killed,
 * say) loads it and resumes at the epoch after it, and, with the same seed
 * and script, ends with the weights of an uninterrupted run. A completed fit
 * deletes its backups.
 */
export class BackupAndRestore extends BaseCallback implements ResumesTraining {
  /** Where the backups live. */
  readonly backupDir: string;
  /** Whether a completed fit deletes its backups. */
  readonly deleteCheckpoint: boolean;
  private resumeAt: number | undefined;

  /** @param options backupDir and deleteCheckpoint. */
  constructor(options: BackupAndRestoreOptions) {
    super();
    const o = checkOptions(options, 'BackupAndRestore', BACKUP_OPTIONS);
    this.backupDir = checkString(o.backupDir, 'backupDir');
    refuseUrl(this.backupDir);
    this.deleteCheckpoint = o.deleteCheckpoint === undefined ? true : checkBoolean(o.deleteCheckpoint, 'deleteCheckpoint');
  }

  /** The backups present, newest first, by epoch. */
  private async backups(): Promise<number[]> {
    const files = await readdir(this.backupDir).catch(() => [] as string[]);
    return files.flatMap((f) => (BACKUP.test(f) ? [Number(BACKUP.exec(f)![1])] : [])).sort((a, b) => b - a);
  }

  /** Restores the newest backup, if any. */
  async onTrainBegin(): Promise<void> {
    this.resumeAt = undefined;
    const [newest] = await this.backups();
    if (newest === undefined) return;
    await this.model!.loadWeights(join(this.backupDir, name(newest)));
    this.resumeAt = newest + 1;
  }

  /** @internal The epoch to resume at, once, after a restore. */
  resumeEpoch(): number | undefined {
    const at = this.resumeAt;
    this.resumeAt = undefined;
    return at;
  }

  /** Backs up the finished epoch, then drops the older backups. */
  async onEpochEnd(epoch: number): Promise<void> {
    await makeDir(this.backupDir);
    await this.model!.saveWeights(join(this.backupDir, name(epoch)));
    for (const old of (await this.backups()).filter((e) => e < epoch)) {
      await rm(join(this.backupDir, name(old)), { force: true });
    }
  }

  /** A completed fit deletes its backups (unless deleteCheckpoint is false). */
  async onTrainEnd(): Promise<void> {
    if (!this.deleteCheckpoint) return;
    for (const e of await this.backups()) await rm(join(this.backupDir, name(e)), { force: true });
  }
}
