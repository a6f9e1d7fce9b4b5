/** Loads the compiled addon through native/index.cjs, the loader that picks this platform's binary. */

import { createRequire } from 'node:module';
import type * as Binding from '../native/index.cjs';

export type {
  FitConfig,
  FitEvent,
  FitSession,
  InputRows,
  LayerConfig,
  LogEntry,
  LossSpec,
  Metrics,
  NativeModel,
  OptimizerSpec,
  OptimizerState,
  ScheduleSpec,
  SlotState,
  TargetRows,
} from '../native/index.cjs';

function load(): typeof Binding {
  const require = createRequire(import.meta.url);
  try {
    return require('../native/index.cjs') as typeof Binding;
  } catch (error) {
    // The loader names the platform as the binaries do (linux-x64-gnu…).
    const platform = (error as { platform?: string } | undefined)?.platform ?? 'this platform';
    const reason = error instanceof Error ? error.message : String(error);
    const failure = new Error(
      `ferro-nn: no native binary could be loaded for ${platform} (Node ${process.version}). ` +
        `Reinstall ferro-nn so npm fetches the prebuilt binary for this platform, ` +
        `or build from source with a Rust toolchain: npm run build. Loader said: ${reason}`,
      { cause: error },
    );
    // A stable code, as every other ferro-nn error has: the loader's own
    // (no binary for the platform), or this one when loading one failed.
    throw Object.assign(failure, { code: 'ERR_FERRO_NO_BINARY' });
  }
}

export const binding = load();
