/**
 * npm run bench [kernels|sweep|mnist|predict]...: ferro-nn's speed, raced against
 * baselines in the same run, printed as tables and written to
 * bench/results/*.json. Targets are checked at the end (issue 3).
 *
 *   kernels  GFLOP/s of each GEMM of an MNIST training step: ferro-nn,
 *            ndarray (matrixmultiply) and OpenBLAS, plus the FMA peak and the microkernel's
 *            own ceiling (its tile on slivers in L1); 1 and 2 threads
 *   sweep    GFLOP/s of a whole training step over hidden widths, batch sizes,
 *            layers and optimizers, each row fitted beside the seed model (epochs
 *            taking turns; about a minute per thread count on the 2-core VM), then
 *            the seed model's steps one by one (median, 90th percentile, mean)
 *   mnist    seconds per epoch of the seed model through the public API on 1 and
 *            2 threads (fresh process each, alternated), what a per-batch callback
 *            costs per step, and peak RSS of examples/mnist.ts
 *   predict  one-row predict latency (p50, p99), 64 one-row predicts in flight,
 *            64 clients calling in separate ticks, and batched predict
 *            throughput of the seed model; then the same with every call on
 *            the pool (FERRO_NN_PREDICT_ON_CALLER=0)
 *   peers    the seed model in ferro-nn against TensorFlow.js (wasm, in Node) and,
 *            when bench/peers/setup.sh has made bench/peers/.venv, Keras 3 on JAX,
 *            TensorFlow and PyTorch and plain PyTorch: s/epoch, ratio, test_acc
 *            (not part of the default run: `npm run bench -- peers`)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchBin = `${root}target/release/ferro-nn-bench`;
const THREADS = [1, 2];

interface Shape { shape: string; ferro: number; ndarray: number; openblas: number | null; bf16: number | null }
interface Kernels {
  threads: number;
  isa: string;
  fma_peak: number;
  /** The microkernel of these products alone, slivers in L1 (crate/bench peak.rs): their ceiling. */
  tile_ceiling: number;
  /** Its tile, MR×NR. */
  tile: string;
  openblas_core: string | null;
  /** openblas_get_config() and its threading (pthreads, OpenMP, sequential). */
  openblas_build: string | null;
  /** The threads OpenBLAS reported after pinning. */
  openblas_threads: number | null;
  /** Set where the bench forced OPENBLAS_CORETYPE (openblasCore): what was detected, and the core forced. */
  openblas_forced?: string;
  shapes: Shape[];
}

/**
 * A figure above the FMA peak of its thread count cannot be what it claims
 * (more threads ran than the column says): shown as invalid, never judged.
 */
const valid = (gflops: number | null, r: Kernels): boolean => gflops !== null && gflops <= r.fma_peak;
const shown = (gflops: number | null, r: Kernels): string =>
  gflops === null ? 'n/a' : valid(gflops, r) ? gflops.toFixed(1) : `${gflops.toFixed(1)} INVALID (above peak)`;
/** vs_seed: GFLOP/s over the seed model's, the two fits taking turns epoch by epoch (crate/bench `paired`). */
interface SweepRow { sweep: string; hidden: number; batch: number; step_ms: number; gflops: number; vs_seed: number }
interface MnistRun {
  threads: number;
  isa: string;
  dtypePolicy: string;
  /** Whether the bfloat16 kernels ran (mixed_bfloat16 on AVX512_BF16). */
  bfloat16: boolean;
  batchHook: boolean;
  epochSeconds: number[];
  testAccuracy: number;
  maxRssMiB: number;
}
interface PredictRun {
  threads: number;
  oneRow: { p50Us: number; p90Us: number; p99Us: number };
  concurrent: { rowsPerSecond: number };
  clients: { rowsPerSecond: number };
  batched: { rowsPerSecond: number };
}

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  date: new Date().toISOString(),
};

/**
 * CPU time so far, all CPUs together, in clock ticks, and how much of it
 * the hypervisor gave to others while this guest's vCPUs were ready to run
 * ("steal", /proc/stat); null where the kernel does not report it.
 */
function cpuTicks(): { total: number; steal: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user and nice]
    if (fields.length < 8 || fields.some((f) => !Number.isFinite(f))) return null;
    return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7]! };
  } catch {
    return null;
  }
}

let sectionStart = cpuTicks();

/**
 * Writes a section's results, with the share of CPU time the host stole
 * since the previous section ended: on a shared VM, the one sign in the
 * guest of how noisy the host was while the figures were taken.
 */
function save(name: string, data: unknown): void {
  const now = cpuTicks();
  const spent = now && sectionStart ? now.total - sectionStart.total : 0;
  const hostSteal = now && sectionStart && spent > 0 ? (now.steal - sectionStart.steal) / spent : null;
  sectionStart = now;
  if (hostSteal !== null) console.log(`Host steal during this section: ${(100 * hostSteal).toFixed(1)}% of CPU time (/proc/stat)\n`);
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/${name}.json`, `${JSON.stringify({ machine, hostSteal, ...(data as object) }, null, 2)}\n`);
}

function table(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  cells.slice(1).forEach((r) => console.log(line(r)));
  console.log();
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Debian's OpenBLAS, installed when missing and we are root (the bench's only setup). */
function ensureOpenBlas(): void {
  const has = spawnSync('sh', ['-c', 'ldconfig -p | grep -q "libopenblas.so.0"']).status === 0;
  if (has) return;
  if (process.getuid?.() !== 0) {
    console.log('OpenBLAS missing and not root: its column stays empty (apt-get install libopenblas-dev).');
    return;
  }
  console.log('Installing libopenblas-dev for the OpenBLAS baseline…');
  const install = (): number | null =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'libopenblas-dev'], { stdio: 'ignore' }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    install();
  }
}

function runBench(mode: 'kernels' | 'sweep' | 'steps', threads: number, coretype?: string): unknown {
  // Every baseline pinned to the column's thread count, whatever its build:
  // Debian's OpenMP OpenBLAS reads OMP_NUM_THREADS, not openblas_set_num_threads alone.
  const pin = String(threads);
  const env: NodeJS.ProcessEnv = { ...process.env, MATMUL_NUM_THREADS: pin, OMP_NUM_THREADS: pin, OPENBLAS_NUM_THREADS: pin };
  // Let OpenBLAS pick its own kernel and cache sizes for this CPU, unless
  // it did not know the CPU (openblasCore).
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  return JSON.parse(execFileSync(benchBin, [mode, '--threads', String(threads)], { env, encoding: 'utf8' }));
}

/**
 * The OpenBLAS core to force where DYNAMIC_ARCH did not know the CPU and
 * fell back to Prescott (SSE3): the newest x86 core whose features this CPU
 * has. Debian's OpenBLAS 0.3.21 does so on a Xeon of family 6 model 207,
 * and ran 4-5x below its SkylakeX kernels there.
 */
function openblasCore(detected: string | null): string | undefined {
  if (detected !== 'Prescott' || process.platform !== 'linux') return undefined;
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []);
  const has = (...f: string[]) => f.every((x) => flags.has(x));
  if (has('avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl')) return 'SkylakeX';
  if (has('avx2', 'fma')) return 'Haswell';
  return undefined;
}

function kernels(): Kernels[] {
  ensureOpenBlas();
  const results = THREADS.map((t) => {
    const run = runBench('kernels', t) as Kernels;
    const core = openblasCore(run.openblas_core);
    if (core === undefined) return run;
    // Kept in the saved JSON too: its openblas_core is then the forced one.
    const openblas_forced = `${run.openblas_core} as detected, so OPENBLAS_CORETYPE=${core}`;
    return { ...(runBench('kernels', t, core) as Kernels), openblas_forced };
  });
  for (const r of results) {
    const why = r.openblas_forced ? ` (${r.openblas_forced})` : '';
    console.log(
      `GEMM, ${r.threads} thread(s), ferro-nn ${r.isa}; FMA peak ${r.fma_peak.toFixed(0)} GFLOP/s, ` +
        `its ${r.tile} tile alone (in L1) ${r.tile_ceiling.toFixed(0)} (${((100 * r.tile_ceiling) / r.fma_peak).toFixed(0)}%); ` +
        `OpenBLAS: ${r.openblas_build ?? 'n/a'}, core ${r.openblas_core ?? 'n/a'}${why}, ${r.openblas_threads ?? '?'} thread(s) ran`,
    );
    if (r.openblas_threads !== null && r.openblas_threads !== r.threads) {
      console.log(`  OpenBLAS ran ${r.openblas_threads} threads in the ${r.threads}-thread column: its figures are not comparable.`);
    }
    table(
      ['shape', 'ferro-nn', 'ndarray', 'OpenBLAS', '% of peak', '% of tile', 'vs OpenBLAS', 'ferro-nn bf16'],
      r.shapes.map((s) => [
        s.shape,
        shown(s.ferro, r),
        shown(s.ndarray, r),
        shown(s.openblas, r),
        `${((100 * s.ferro) / r.fma_peak).toFixed(0)}%`,
        `${((100 * s.ferro) / r.tile_ceiling).toFixed(0)}%`,
        valid(s.ferro, r) && valid(s.openblas, r) ? `${(s.ferro / s.openblas!).toFixed(2)}×` : 'n/a',
        // bfloat16 products may exceed the float32 FMA peak: two per lane per instruction.
        s.bf16 === null ? 'n/a' : `${s.bf16.toFixed(1)} (${(s.bf16 / s.ferro).toFixed(2)}×)`,
      ]),
    );
  }
  save('kernels', { unit: 'GFLOP/s', results });
  return results;
}

function sweep(): { threads: number; rows: SweepRow[] }[] {
  const results = THREADS.map((t) => runBench('sweep', t) as { threads: number; rows: SweepRow[] });
  const label = (r: SweepRow): string =>
    r.sweep === 'hidden'
      ? `hidden ${r.hidden}, batch ${r.batch}`
      : r.sweep === 'batch'
        ? `batch ${r.batch}, hidden ${r.hidden}`
        : `${r.sweep}, hidden ${r.hidden}, batch ${r.batch}`;
  const rows = results[0]!.rows.map((r, i) => [
    label(r),
    ...results.flatMap((res) => {
      const row = res.rows[i]!;
      return [row.step_ms.toFixed(2), row.gflops.toFixed(1), `${row.vs_seed.toFixed(2)}×`];
    }),
  ]);
  console.log('Whole training step of Dense(h, relu) → Dense(10, softmax) on 784 inputs');
  console.log('(× seed: against the seed model fitted beside it, epochs taking turns; the seed row against a second seed fit)');
  table(['shape', ...results.flatMap((r) => [`ms/step ${r.threads}T`, `GFLOP/s ${r.threads}T`, `× seed ${r.threads}T`])], rows);
  save('sweep', { results });
  return results;
}

interface Steps { threads: number; steps: number; median_us: number; p90_us: number; mean_us: number }

/**
 * The seed model's steps one by one (crate/bench `steps`): an epoch's time
 * is the sum of its steps, and on a shared machine with as many threads as
 * cores, a step in which other work held one core stalls the whole join.
 * The median step leaves those out, so the two ratios below tell the
 * code's scaling from the machine's noise. Information, not a target: the
 * targets are judged on epochs, as users see them.
 */
function steps(): Steps[] {
  // Three fits per thread count, alternated so drift in the VM's speed touches both alike.
  const runs: Steps[] = [];
  for (let round = 0; round < 3; round++) for (const t of THREADS) runs.push(runBench('steps', t) as Steps);
  const results = THREADS.map((t) => {
    const mine = runs.filter((r) => r.threads === t);
    const of = (key: 'median_us' | 'p90_us' | 'mean_us'): number => median(mine.map((r) => r[key]));
    return { threads: t, steps: mine[0]!.steps, median_us: of('median_us'), p90_us: of('p90_us'), mean_us: of('mean_us') };
  });
  console.log("Seed model's steps in Rust, epochs 2-4 of 3 fits each (bytes rows, as examples/mnist.ts passes MNIST; medians of the fits)");
  table(
    ['threads', 'median µs', '90th pct µs', 'mean µs', 'mean / median'],
    results.map((r) => [r.threads, r.median_us.toFixed(1), r.p90_us.toFixed(1), r.mean_us.toFixed(1), (r.mean_us / r.median_us).toFixed(3)]),
  );
  if (results.length === 2) {
    const [one, two] = results as [Steps, Steps];
    console.log(`Scaling 1→2 threads: ${(one.median_us / two.median_us).toFixed(3)}× on median steps, ${(one.mean_us / two.mean_us).toFixed(3)}× on mean steps\n`);
  }
  save('steps', { results, runs });
  return results;
}

function mnist(): Record<string, unknown> {
  const tsx = `${root}node_modules/.bin/tsx`;
  const runs: MnistRun[] = [];
  // mixed_bfloat16 times AMX where the CPU has it (the default's choice),
  // else VDPBF16PS wherever the CPU has it, also where the default picks
  // float32 (Intel's cores without AMX: Bf16Kernel::preferred).
  const amx = process.platform === 'linux' && /^flags\s*:(?=.*\bamx_tile\b)(?=.*\bamx_bf16\b)/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  const bf16 = process.env.FERRO_NN_BF16 ?? (amx ? 'amx' : 'vdpbf16ps');
  const measure = (threads: number, batchHook: boolean, policy = 'float32'): void => {
    const out = execFileSync(tsx, [`${root}bench/mnist-epochs.ts`], {
      env: { ...process.env, FERRO_NN_NUM_THREADS: String(threads), BENCH_BATCH_HOOK: batchHook ? '1' : '0', BENCH_POLICY: policy, FERRO_NN_BF16: bf16 },
      encoding: 'utf8',
    });
    runs.push(JSON.parse(out.trim().split('\n').at(-1)!) as MnistRun);
  };
  for (let round = 0; round < 3; round++) {
    for (const t of THREADS) measure(t, false);
    // One thread: the 2-thread figures of this shared VM swing by more than the cost.
    measure(1, true);
    for (const t of THREADS) measure(t, false, 'mixed_bfloat16');
  }
  // Epochs 2-5 of every run with this thread count (the first includes warm-up).
  const steady = (t: number, hook = false, policy = 'float32'): number[] =>
    runs.filter((r) => r.threads === t && r.batchHook === hook && r.dtypePolicy === policy).flatMap((r) => r.epochSeconds.slice(1));
  const perPolicy = (policy: string) =>
    THREADS.map((t) => {
      const mine = runs.filter((r) => r.threads === t && !r.batchHook && r.dtypePolicy === policy);
      const epoch = median(steady(t, false, policy));
      return {
        threads: t,
        medianEpochSeconds: epoch,
        samplesPerSecond: 60000 / epoch,
        testAccuracy: mine.map((r) => r.testAccuracy),
        // The first epoch (warm-up) against the others of the same run,
        // seconds apart; the median over runs. Pooled across runs, one run
        // in the VM's slow state moved the ratio by 0.2.
        firstEpochRatio: median(mine.map((r) => r.epochSeconds[0]! / median(r.epochSeconds.slice(1)))),
      };
    });
  const perThreads = perPolicy('float32');
  const mixed = { bfloat16: runs.some((r) => r.dtypePolicy === 'mixed_bfloat16' && r.bfloat16), perThreads: perPolicy('mixed_bfloat16') };
  // 469 steps per epoch; the same 1-thread runs with and without an empty onBatchEnd.
  const batchHookUsPerStep = ((median(steady(1, true)) - median(steady(1))) / 469) * 1e6;
  const seed = spawnSync(process.execPath, ['--import', 'tsx', '--import', `${root}bench/report-rss.mjs`, `${root}examples/mnist.ts`], {
    cwd: root,
    encoding: 'utf8',
  });
  const rss = Number(/maxRssMiB=([\d.]+)/.exec(seed.stderr)?.[1] ?? NaN);
  const seedAcc = Number(/test_acc: ([\d.]+)/.exec(seed.stdout)?.[1] ?? NaN);
  console.log(`Seed model through the public API (${runs[0]?.isa}), epochs 2-5 of 3 runs each`);
  table(
    ['threads', 's/epoch (median)', 'samples/s', 'test_acc'],
    perThreads.map((p) => [p.threads, p.medianEpochSeconds.toFixed(3), p.samplesPerSecond.toFixed(0), p.testAccuracy.map((a) => a.toFixed(4)).join(' ')]),
  );
  const how = mixed.bfloat16
    ? `bfloat16 products, FERRO_NN_BF16=${bf16}; by default CPUs with AMX take them, and AMD CPUs with AVX512_BF16`
    : 'no AMX or AVX512_BF16 here: float32';
  console.log(`The same under mixed_bfloat16 (${how})`);
  table(
    ['threads', 's/epoch (median)', 'samples/s', 'test_acc', '× float32'],
    mixed.perThreads.map((p, i) => [
      p.threads,
      p.medianEpochSeconds.toFixed(3),
      p.samplesPerSecond.toFixed(0),
      p.testAccuracy.map((a) => a.toFixed(4)).join(' '),
      `${(perThreads[i]!.medianEpochSeconds / p.medianEpochSeconds).toFixed(2)}×`,
    ]),
  );
  const scaling = perThreads[0]!.medianEpochSeconds / perThreads[1]!.medianEpochSeconds;
  console.log(`Scaling 1→2 threads: ${scaling.toFixed(3)}×; examples/mnist.ts (unseeded): test_acc ${seedAcc}, peak RSS ${rss} MiB`);
  console.log(
    `An empty onBatchEnd (batch k+1 waits for batch k's callbacks): ${median(steady(1, true)).toFixed(3)} s/epoch on 1 thread, ${batchHookUsPerStep.toFixed(0)} µs per step\n`,
  );
  const result = { perThreads, mixed, scaling, batchHookUsPerStep, seedProgram: { testAccuracy: seedAcc, maxRssMiB: rss }, runs };
  save('mnist', result);
  return result;
}

function predict(): { p50Us: number; p99Us: number; concurrentRowsPerSecond: number } {
  const tsx = `${root}node_modules/.bin/tsx`;
  const run = (env: NodeJS.ProcessEnv = process.env): PredictRun =>
    JSON.parse(execFileSync(tsx, [`${root}bench/predict.ts`], { encoding: 'utf8', env }).trim().split('\n').at(-1)!) as PredictRun;
  const runs = [0, 1, 2].map(() => run());
  // Side by side: every call on the pool's threads, as before one- and
  // two-row predicts ran on JavaScript's thread.
  const pooled = run({ ...process.env, FERRO_NN_PREDICT_ON_CALLER: '0' });
  console.log(`Seed model inference through the public API, ${runs[0]!.threads} threads, 3 runs (medians of each run), then one with FERRO_NN_PREDICT_ON_CALLER=0`);
  table(
    ['run', 'one row p50 µs', 'p90 µs', 'p99 µs', '64 in flight rows/s', '64 clients rows/s', 'batched rows/s'],
    [...runs, pooled].map((r, i) => [
      i < runs.length ? i + 1 : 'pool',
      r.oneRow.p50Us.toFixed(1),
      r.oneRow.p90Us.toFixed(1),
      r.oneRow.p99Us.toFixed(1),
      r.concurrent.rowsPerSecond.toFixed(0),
      r.clients.rowsPerSecond.toFixed(0),
      r.batched.rowsPerSecond.toFixed(0),
    ]),
  );
  const result = {
    p50Us: median(runs.map((r) => r.oneRow.p50Us)),
    p99Us: median(runs.map((r) => r.oneRow.p99Us)),
    concurrentRowsPerSecond: median(runs.map((r) => r.concurrent.rowsPerSecond)),
  };
  save('predict', { ...result, runs, pooled });
  return result;
}

interface PeerRun { peer: string; threads: number; medianEpochSeconds: number; testAccuracy: number; note?: string }

/** The seed model in ferro-nn and its peers, one run each, one table. */
function peers(): void {
  const tsx = `${root}node_modules/.bin/tsx`;
  const json = (out: string): PeerRun => JSON.parse(out.trim().split('\n').at(-1)!) as PeerRun;
  const runs: PeerRun[] = [];
  for (const t of THREADS) {
    const out = execFileSync(tsx, [`${root}bench/mnist-epochs.ts`], { env: { ...process.env, FERRO_NN_NUM_THREADS: String(t) }, encoding: 'utf8' });
    const r = json(out) as PeerRun & { isa: string };
    runs.push({ ...r, peer: `ferro-nn (${r.isa})`, threads: t });
  }
  runs.push(json(execFileSync(tsx, [`${root}bench/peers/tfjs.ts`], { encoding: 'utf8' })));
  const python = `${root}bench/peers/.venv/bin/python`;
  if (existsSync(python)) {
    for (const t of THREADS) {
      // Pinned twice: to t cores, and each runtime's own thread count.
      const pin = String(t);
      const env = { ...process.env, OMP_NUM_THREADS: pin, MKL_NUM_THREADS: pin, TF_NUM_INTRAOP_THREADS: pin, TF_NUM_INTEROP_THREADS: pin, TF_CPP_MIN_LOG_LEVEL: '2' };
      const cores = `0-${t - 1}`;
      const run = (script: string, ...args: string[]) =>
        json(execFileSync('taskset', ['-c', cores, python, `${root}bench/peers/${script}`, ...args], { cwd: `${root}bench/peers`, env, encoding: 'utf8' }));
      for (const backend of ['jax', 'tensorflow', 'torch']) runs.push(run('keras_mnist.py', backend, pin));
      runs.push(run('torch_mnist.py', pin));
    }
  } else {
    console.log('No Python peers: bench/peers/setup.sh prepares them (Keras 3 on JAX, TensorFlow, PyTorch; plain PyTorch).');
  }
  const ferro = (t: number) => runs.find((r) => r.peer.startsWith('ferro-nn') && r.threads === t)!.medianEpochSeconds;
  console.log(`The seed model, full MNIST, batch 128, median of epochs 2-5 (${machine.cpu}, ${machine.date.slice(0, 10)})`);
  table(
    ['peer', 'threads', 's/epoch', '× ferro-nn', 'test_acc'],
    runs.map((r) => [
      r.peer,
      String(r.threads),
      r.medianEpochSeconds.toFixed(3),
      `${(r.medianEpochSeconds / ferro(r.threads)).toFixed(2)}×`,
      `${r.testAccuracy.toFixed(4)}${r.note ? ` (${r.note})` : ''}`,
    ]),
  );
  save('peers', { runs });
}

const wanted = process.argv.slice(2);
// peers takes minutes and needs its own set-up: only when asked for.
const want = (name: string): boolean => (wanted.length === 0 ? name !== 'peers' : wanted.includes(name));
const checks: [string, boolean][] = [];
const invalid: string[] = [];
// The FMA peak the kernels section measured, by thread count, and the
// microkernel's own ceiling (shown beside the verdicts: where the tile
// itself stays below the peak, no product or step built on it gets there).
const fmaPeak = new Map<number, number>();
const tileCeiling = new Map<number, number>();
const ofTile = (gflops: number, threads: number): string => {
  const tile = tileCeiling.get(threads);
  return tile === undefined ? '' : `; ${((100 * gflops) / tile).toFixed(0)}% of its tile alone`;
};
if (want('kernels') || want('sweep')) {
  execFileSync('cargo', ['build', '--release', '-q', '-p', 'ferro-nn-bench'], { cwd: root, stdio: 'inherit' });
}
if (want('kernels')) {
  for (const r of kernels()) {
    fmaPeak.set(r.threads, r.fma_peak);
    tileCeiling.set(r.threads, r.tile_ceiling);
    // Only figures that can be true are judged; an invalid one is reported as such.
    const pinned = r.openblas_threads === null || r.openblas_threads === r.threads;
    for (const s of r.shapes) {
      if (s.openblas === null) continue;
      if (valid(s.ferro, r) && valid(s.openblas, r) && pinned) checks.push([`${r.threads}T ${s.shape} ≥ OpenBLAS`, s.ferro >= s.openblas]);
      else invalid.push(`${r.threads}T ${s.shape} vs OpenBLAS: a figure above the FMA peak, or OpenBLAS unpinned`);
    }
    for (const s of r.shapes.filter((s) => (s.shape.startsWith('X·W1') || s.shape.startsWith('Xᵀ·dH')))) {
      const what = `${r.threads}T ${s.shape} ≥ 75% of FMA peak (${((100 * s.ferro) / r.fma_peak).toFixed(0)}%${ofTile(s.ferro, r.threads)})`;
      if (valid(s.ferro, r)) checks.push([what, s.ferro >= 0.75 * r.fma_peak]);
      else invalid.push(`${r.threads}T ${s.shape}: ferro-nn above the FMA peak`);
    }
  }
}
if (want('sweep')) {
  // Growth (issue 13): at widths ≥ 512 on 1 thread no shape, layer or
  // optimizer below 80% of the seed model's GFLOP/s, each row judged
  // against the seed model fitted beside it (this VM's speed swings 1.4×
  // within seconds; a seed measured once moved every verdict).
  // The seed row, fitted beside a second seed fit, is the check on the
  // method itself: far from 1, this run's pairs were not alike enough to judge.
  const one = sweep()[0]!.rows;
  const isSeed = (r: SweepRow): boolean => r.sweep === 'hidden' && r.hidden === 512 && r.batch === 128;
  const aa = one.find(isSeed)!.vs_seed;
  if (Math.abs(aa - 1) > 0.05) {
    invalid.push(`1T growth rows: the seed model against itself gave ${aa.toFixed(2)}×, outside 0.95–1.05×`);
  } else {
    for (const r of one.filter((r) => r.hidden >= 512 && !isSeed(r))) {
      const what = `1T ${r.sweep} (hidden ${r.hidden}, batch ${r.batch}) ≥ 80% of the seed model's GFLOP/s (${(100 * r.vs_seed).toFixed(0)}%)`;
      checks.push([what, r.vs_seed >= 0.8]);
    }
  }
  steps();
}
if (want('mnist')) {
  type PerThreads = { threads: number; medianEpochSeconds: number; testAccuracy: number[]; firstEpochRatio: number }[];
  const m = mnist() as {
    perThreads: PerThreads;
    mixed: { bfloat16: boolean; perThreads: PerThreads };
    scaling: number;
    seedProgram: { testAccuracy: number; maxRssMiB: number };
  };
  checks.push(['2 threads ≤ 0.75 s/epoch', m.perThreads[1]!.medianEpochSeconds <= 0.75]);
  checks.push(['1 thread ≤ 1.4 s/epoch', m.perThreads[0]!.medianEpochSeconds <= 1.4]);
  checks.push(['scaling 1→2 threads ≥ 1.8×', m.scaling >= 1.8]);
  // Seeded runs: one unseeded draw of the seed program is 0.9793 ± 0.0025
  // (16 seeds measured, 2026-11-30), so about one run in twenty lands below
  // 0.975.
  checks.push(['test_acc ≥ 0.975 (seeded runs)', m.perThreads.every((p) => p.testAccuracy.every((a) => a >= 0.975))]);
  checks.push(['seed peak RSS ≤ 450 MiB', m.seedProgram.maxRssMiB <= 450]);
  // Issue 13's targets.
  checks.push(['2 threads ≤ 0.47 s/epoch (float32)', m.perThreads[1]!.medianEpochSeconds <= 0.47]);
  checks.push(['1 thread ≤ 0.92 s/epoch (float32)', m.perThreads[0]!.medianEpochSeconds <= 0.92]);
  checks.push(['scaling 1→2 threads ≥ 1.9×', m.scaling >= 1.9]);
  for (const p of m.perThreads) checks.push([`${p.threads}T first epoch within 10% of the others`, p.firstEpochRatio <= 1.1]);
  // The whole step against the FMA peak: an epoch of the seed model is
  // 2·(784·512·2 + 512·10·3) FLOPs per sample (forward and weight gradient
  // of both layers, input gradient of the second) over 60 000 samples.
  const epochFlops = 2 * (784 * 512 * 2 + 512 * 10 * 3) * 60000;
  for (const p of m.perThreads) {
    const peak = fmaPeak.get(p.threads);
    if (peak === undefined) continue;
    const gflops = epochFlops / p.medianEpochSeconds / 1e9;
    const share = gflops / peak;
    checks.push([`${p.threads}T whole step ≥ 90% of FMA peak (${(100 * share).toFixed(0)}%${ofTile(gflops, p.threads)})`, share >= 0.9]);
  }
  if (m.mixed.bfloat16) {
    checks.push(['mixed_bfloat16, 2 threads ≤ 0.30 s/epoch', m.mixed.perThreads[1]!.medianEpochSeconds <= 0.3]);
    checks.push(['mixed_bfloat16 test_acc ≥ 0.975 after 5 epochs', m.mixed.perThreads.every((p) => p.testAccuracy.every((a) => a >= 0.975))]);
  } else {
    invalid.push('mixed_bfloat16 targets: no AMX or AVX512_BF16 on this CPU');
  }
}
if (want('peers')) peers();
if (want('predict')) {
  const p = predict();
  checks.push(['one-row predict p50 ≤ 50 µs', p.p50Us <= 50]);
  checks.push(['one-row predict p99 ≤ 500 µs', p.p99Us <= 500]);
  checks.push(['64 concurrent one-row predicts ≥ 20 000 rows/s', p.concurrentRowsPerSecond >= 20000]);
}
if (checks.length) {
  console.log('Targets (issues 3, 9 and 13)');
  for (const [what, ok] of checks) console.log(`  ${ok ? 'met ' : 'MISS'}  ${what}`);
  for (const what of invalid) console.log(`  INVALID  ${what} (not judged)`);
}
