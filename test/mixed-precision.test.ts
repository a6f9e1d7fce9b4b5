/**
 * mixed_bfloat16 (Keras's keras.mixed_precision): the policy API, training
 * in bfloat16 where the CPU has a fast AVX512_BF16 (checked against float32
 * and across thread counts), the float32 fallback elsewhere (test:isa's
 * capped runs and Intel CPUs take it; CI reruns this file with
 * FERRO_NN_BF16=vdpbf16ps), and the policy in saved .keras files.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Dense, getNumThreads, kernelIsa, loadModel, mixedPrecision, mnist, Sequential, setNumThreads, setRandomSeed, Tensor } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ferro-mixed-'));
afterEach(() => mixedPrecision.setGlobalPolicy('float32'));

describe('mixedPrecision', () => {
  it('sets the policy of models created afterwards; a model keeps its own', () => {
    expect(mixedPrecision.globalPolicy()).toBe('float32');
    const before = new Sequential([new Dense(2)]);
    mixedPrecision.setGlobalPolicy('mixed_bfloat16');
    expect(mixedPrecision.globalPolicy()).toBe('mixed_bfloat16');
    expect(new Sequential([new Dense(2)]).dtypePolicy).toBe('mixed_bfloat16');
    expect(before.dtypePolicy).toBe('float32');
    expect(new Sequential([new Dense(2)], { dtypePolicy: 'float32' }).dtypePolicy).toBe('float32');
  });

  it('refuses policies ferro-nn does not compute with, by name', () => {
    expect(() => mixedPrecision.setGlobalPolicy('mixed_float16' as never)).toThrow(
      expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('mixed_float16') }),
    );
    expect(() => new Sequential([], { dtypePolicy: 'bf16' as never })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    expect(mixedPrecision.globalPolicy()).toBe('float32');
  });
});

describe('training under mixed_bfloat16', () => {
  async function train(policy: 'float32' | 'mixed_bfloat16', threads: number) {
    const [[images, labels], [testImages, testLabels]] = await mnist.loadData();
    const rows = (t: Tensor<'uint8'>, n: number) => t.slice(0, n).reshape([n, 784]).asType('float32').div(255);
    const saved = getNumThreads();
    setNumThreads(threads);
    try {
      setRandomSeed(4);
      const model = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })], { dtypePolicy: policy });
      model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
      await model.fit(rows(images, 4096), labels.slice(0, 4096), { epochs: 2, batchSize: 128, verbose: 0 });
      const { accuracy } = await model.evaluate(rows(testImages, 2000), testLabels.slice(0, 2000));
      return { model, accuracy, weights: model.getWeights().map((w) => Array.from(w.data)) };
    } finally {
      setNumThreads(saved);
    }
  }

  it('learns as float32 does, the same on 1 and 2 threads; float32 with a warning where bfloat16 cannot run', { timeout: 60_000 }, async () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const f32 = await train('float32', 2);
      const [one, two] = [await train('mixed_bfloat16', 1), await train('mixed_bfloat16', 2)];
      expect(one.weights).toEqual(two.weights);
      if (two.model.computesInBfloat16) {
        expect(two.weights).not.toEqual(f32.weights);
        expect(Math.abs(two.accuracy - f32.accuracy)).toBeLessThan(0.01);
        expect(warning).not.toHaveBeenCalled();
      } else {
        // No AVX512_BF16 (or kernels capped below AVX-512): float32, said once.
        expect(two.weights).toEqual(f32.weights);
        expect(warning.mock.calls.filter(([, o]) => (o as { code?: string })?.code === 'FERRO_NN_BF16_FALLBACK').length).toBe(1);
      }
      // It learns (chance is 0.1): 0.848 with this seed, 4096 rows and 2 epochs.
      expect(f32.accuracy).toBeGreaterThan(0.8);
    } finally {
      warning.mockRestore();
    }
  });
});

describe('the policy in .keras files', () => {
  it('is saved on every layer as Keras writes it, and loaded back', async () => {
    const model = new Sequential([new Dense(4, { activation: 'relu', inputShape: [3] }), new Dense(2)], { dtypePolicy: 'mixed_bfloat16' });
    model.build([null, 3]);
    const path = join(dir, 'mixed.keras');
    await model.save(path);
    const config = JSON.parse(new TextDecoder().decode(unzipSync(readFileSync(path))['config.json']!));
    const layers = config.config.layers.filter((l: { class_name: string }) => l.class_name !== 'InputLayer');
    for (const l of layers) expect(l.config.dtype).toEqual({ module: 'keras', class_name: 'DTypePolicy', config: { name: 'mixed_bfloat16' }, registered_name: null });
    const back = await loadModel(path);
    expect(back.dtypePolicy).toBe('mixed_bfloat16');
    const x = [[0.5, -1, 2]];
    expect(Array.from((await back.predict(x)).data)).toEqual(Array.from((await model.predict(x)).data));
  });
});

// Last in the file: the training test above counts the once-per-process warning.
describe('which CPUs compute in bfloat16', () => {
  // The kernel's own view of the CPU (Linux only): VDPBF16PS needs the
  // avx512_bf16 flag and the AVX-512 kernels; Intel's cores run it below
  // their float32 FMA rate, so only AMD's take it unless FERRO_NN_BF16 says.
  // AMX-BF16 (amx_tile and amx_bf16) comes first where the CPU has it.
  const cpuinfo = process.platform === 'linux' ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const hasDot = /^flags\s*:.*\bavx512_bf16\b/m.test(cpuinfo) && kernelIsa() === 'avx512';
  const hasAmx = /^flags\s*:(?=.*\bamx_tile\b)(?=.*\bamx_bf16\b)/m.test(cpuinfo) && kernelIsa() === 'avx512';
  const amd = /^vendor_id\s*:\s*AuthenticAMD$/m.test(cpuinfo);
  // Writing process.env reaches the addon's getenv because vitest runs this
  // file in a forked process (vitest.config.ts); a worker thread's env is a copy.
  const computes = (setting: string | undefined) => {
    const saved = process.env.FERRO_NN_BF16;
    if (setting === undefined) delete process.env.FERRO_NN_BF16;
    else process.env.FERRO_NN_BF16 = setting;
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const model = new Sequential([new Dense(2)], { dtypePolicy: 'mixed_bfloat16' });
      model.build([null, 3]);
      return model.computesInBfloat16;
    } finally {
      warning.mockRestore();
      if (saved === undefined) delete process.env.FERRO_NN_BF16;
      else process.env.FERRO_NN_BF16 = saved;
    }
  };

  it.runIf(process.platform === 'linux')('CPUs with AMX, or AMD CPUs with AVX512_BF16; any such CPU with FERRO_NN_BF16=amx or vdpbf16ps; none with off', () => {
    expect(computes(undefined)).toBe(hasAmx || (hasDot && amd));
    expect(computes('amx')).toBe(hasAmx);
    expect(computes('vdpbf16ps')).toBe(hasDot);
    expect(computes('off')).toBe(false);
  });
});
