/**
 * TensorFlow.js's layers format against real TensorFlow.js 4
 * (@tensorflow/tfjs, a devDependency, CPU backend): what ferro-nn saves, TF.js
 * loads and predicts the same; what TF.js saves, ferro-nn loads and predicts
 * the same (live, and from a committed fixture); and bad folders get coded errors.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  Activation,
  BatchNormalization,
  Dense,
  Dropout,
  loadLayersModel,
  losses,
  optimizers,
  regularizers,
  Sequential,
  setRandomSeed,
  Tensor,
} from '../src/index.js';
import { ACCURACY_NAMES, LOSS_NAMES, METRIC_NAMES, SPARSE_LOSSES } from '../src/sequential-options.js';
import { maxAbsDiff } from './helpers.js';

const x = Array.from({ length: 9 }, (_, i) => [Math.sin(i), Math.cos(i * 0.3), i / 9 - 0.5, 0.2]);
const dir = mkdtempSync(join(tmpdir(), 'ferro-tfjs-'));

/** A folder written by TF.js's own save, through a handler that writes files as its file:// handler does. */
async function tfjsSave(model: tf.LayersModel, folder: string, includeOptimizer = false): Promise<void> {
  mkdirSync(folder, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      writeFileSync(join(folder, 'group1-shard1of1.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      const json = {
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }],
        ...(a.trainingConfig ? { trainingConfig: a.trainingConfig } : {}),
      };
      writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer },
  );
}

/** Writes edited copies of `folder`'s model.json beside it; each call returns the copy's URL. */
function editedCopies(folder: string): (name: string, edit: (json: any) => void) => string {
  const json: unknown = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
  return (name, edit) => {
    const copy = structuredClone(json);
    edit(copy);
    writeFileSync(join(folder, name), JSON.stringify(copy));
    return `file://${join(folder, name)}`;
  };
}

/** A folder loaded by TF.js from the files (as its file:// handler reads them). */
async function tfjsLoad(folder: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
  const group = json.weightsManifest[0];
  const data = Buffer.concat(group.paths.map((p: string) => readFileSync(join(folder, p))));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: group.weights,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      trainingConfig: json.trainingConfig,
    }),
  );
}

describe('TensorFlow.js layers format', () => {
  it('a folder TensorFlow.js wrote (committed, test/golden/tfjs_saving.mjs) loads and predicts as TF.js did', async () => {
    const golden = JSON.parse(readFileSync(new URL('./golden/tfjs-saving.json', import.meta.url), 'utf8')) as {
      x: number[][];
      predict: number[][];
    };
    const model = await loadLayersModel(`file://${new URL('./fixtures/tfjs/model.json', import.meta.url).pathname}`);
    expect(model.name).toBe('tfjs_made');
    expect(model.layers.map((l) => l.className)).toEqual(['Dense', 'Dropout', 'BatchNormalization', 'Activation', 'Dense']);
    expect(maxAbsDiff((await model.predict(golden.x)).data, golden.predict.flat())).toBeLessThan(1e-5);
  });

  it('what ferro-nn saves, TensorFlow.js loads and predicts the same', async () => {
    setRandomSeed(4);
    const model = new Sequential([
      new Dense(7, { activation: 'gelu', inputShape: [4], kernelRegularizer: regularizers.l2(0.01) }),
      new Dropout(0.2),
      new BatchNormalization({ momentum: 0.9 }),
      new Activation('silu'),
      new Dense(5, { activation: 'tanh', kernelInitializer: 'he_normal' }),
      new Dense(3, { activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    await model.fit(x, [0, 1, 2, 0, 1, 2, 0, 1, 2], { epochs: 4, batchSize: 3, verbose: 0 });
    const folder = join(dir, 'ours');
    await model.save(`file://${folder}`);
    const theirs = await tfjsLoad(folder);
    const got = (theirs.predict(tf.tensor2d(x)) as tf.Tensor).dataSync();
    expect(maxAbsDiff(Float32Array.from(got), Array.from((await model.predict(x)).data))).toBeLessThan(1e-5);
    // And back into ferro-nn, exactly.
    const back = await loadLayersModel(`file://${folder}/model.json`);
    expect(Array.from((await back.predict(x)).data)).toEqual(Array.from((await model.predict(x)).data));
  });

  it('weights over 4 MiB go to several shards, as TensorFlow.js writes them', async () => {
    const model = new Sequential([new Dense(1024, { inputShape: [1100], activation: 'relu' }), new Dense(2)]);
    model.build([null, 1100]);
    const folder = join(dir, 'sharded');
    await model.save(`file://${folder}`);
    const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
    // TF.js's names, with a token unique to the save (see 'a save replaces the previous one whole').
    expect(json.weightsManifest[0].paths).toEqual([expect.stringMatching(/^group1-shard1of2\.[0-9a-f]{16}\.bin$/), expect.stringMatching(/^group1-shard2of2\.[0-9a-f]{16}\.bin$/)]);
    const input = [Array.from({ length: 1100 }, (_, i) => Math.sin(i))];
    const want = (await tfjsLoad(folder)).predict(tf.tensor2d(input)) as tf.Tensor;
    expect(maxAbsDiff((await model.predict(input)).data, Array.from(want.dataSync()))).toBeLessThan(1e-4);
  });

  it('what TensorFlow.js saves, ferro-nn loads and predicts the same', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 6, activation: 'relu', inputShape: [4], kernelInitializer: 'heUniform' }));
    m.add(tf.layers.dropout({ rate: 0.3 }));
    m.add(tf.layers.batchNormalization({ epsilon: 0.01 }));
    m.add(tf.layers.activation({ activation: 'swish' }));
    m.add(tf.layers.dense({ units: 4, activation: 'elu', useBias: false }));
    m.add(tf.layers.dense({ units: 2, activation: 'sigmoid' }));
    // Moving statistics that are not the initial ones.
    const bn = m.layers[2]!;
    bn.setWeights(bn.getWeights().map((w, i) => tf.fill(w.shape, [1.5, 0.25, -0.5, 2][i]!)));
    const folder = join(dir, 'theirs');
    await tfjsSave(m, folder);
    const model = await loadLayersModel(`file://${folder}/model.json`);
    expect(model.layers.map((l) => l.className)).toEqual(['Dense', 'Dropout', 'BatchNormalization', 'Activation', 'Dense', 'Dense']);
    const want = (m.predict(tf.tensor2d(x)) as tf.Tensor).dataSync();
    expect(maxAbsDiff((await model.predict(x)).data, Array.from(want))).toBeLessThan(1e-5);
  });

  it('compile settings cross both ways where TensorFlow.js has them (trainingConfig)', async () => {
    const ours = new Sequential([new Dense(3, { inputShape: [4], activation: 'softmax' })]);
    ours.compile({ optimizer: new optimizers.RMSprop({ learningRate: 0.005, momentum: 0.5 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    ours.build([null, 4]);
    await ours.save(`file://${join(dir, 'compiled')}`);
    const theirs = await tfjsLoad(join(dir, 'compiled'));
    expect(theirs.optimizer.getClassName()).toBe('RMSProp');
    expect((theirs.optimizer.getConfig() as { learningRate: number; momentum: number }).momentum).toBe(0.5);
    // TF.js trains it as compiled.
    await theirs.fit(tf.tensor2d(x), tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2], 'float32'), { epochs: 1, verbose: 0 });

    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' }));
    m.compile({ optimizer: tf.train.adam(0.02), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await m.fit(tf.tensor2d(x), tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2], 'float32'), { epochs: 2, verbose: 0 });
    await tfjsSave(m, join(dir, 'with-optimizer'), true);
    const back = await loadLayersModel(`file://${join(dir, 'with-optimizer', 'model.json')}`);
    expect(back.learningRate).toBeCloseTo(0.02, 7);
    const want = (m.predict(tf.tensor2d(x)) as tf.Tensor).dataSync();
    expect(maxAbsDiff((await back.predict(x)).data, Array.from(want))).toBeLessThan(1e-5);
    expect(Object.keys(await back.evaluate(x, [0, 1, 2, 0, 1, 2, 0, 1, 2]))).toContain('accuracy');

    // Adam's two slots per weight make the manifest three times the
    // weights: a model past the bound's 1 MiB of slack loads too.
    const wide = tf.sequential();
    wide.add(tf.layers.dense({ units: 512, inputShape: [1024] }));
    wide.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    await wide.fit(tf.zeros([2, 1024]), tf.ones([2, 512]), { epochs: 1, verbose: 0 });
    await tfjsSave(wide, join(dir, 'wide-with-optimizer'), true);
    const wideBack = await loadLayersModel(`file://${join(dir, 'wide-with-optimizer', 'model.json')}`);
    expect(wideBack.countParams()).toBe(1024 * 512 + 512);
  });

  it('every loss and metric ferro-nn compiles with saves a folder TensorFlow.js loads, in its names or left out', async () => {
    const all = [...LOSS_NAMES, new losses.Huber(), new losses.MeanSquaredError(), new losses.BinaryCrossentropy({ fromLogits: true })];
    for (const loss of all) {
      const label = typeof loss === 'string' ? loss : `${loss.name} object`;
      const sparse = typeof loss === 'string' && SPARSE_LOSSES.includes(loss);
      // Every metric compile takes with this loss: the sparse top-k one with class indices only, the float ones without.
      const metrics = METRIC_NAMES.filter((m) => ACCURACY_NAMES.includes(m) || (m === 'sparse_top_k_categorical_accuracy') === sparse);
      const model = new Sequential([new Dense(3, { inputShape: [4], activation: 'softmax' })]);
      model.compile({ optimizer: 'adam', loss, metrics });
      model.build([null, 4]);
      const folder = join(dir, `loss-${label.replace(/\W/g, '_')}`);
      await model.save(`file://${folder}`);
      // TF.js refuses the whole model for a name it does not know: this is the check.
      const theirs = await tfjsLoad(folder);
      const training = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')).trainingConfig;
      const known = typeof loss === 'string' ? !loss.startsWith('huber') : loss.name === 'mean_squared_error';
      expect(training !== undefined, label).toBe(known);
      if (!known) continue;
      expect(theirs.optimizer.getClassName(), label).toBe('Adam');
      // And back into ferro-nn, compiled with the same loss under its TF.js name.
      const back = await loadLayersModel(`file://${folder}/model.json`);
      expect(back.compileConfig()?.loss, label).toBe(training.loss);
      expect(back.compileConfig()?.metrics, label).toEqual(training.metrics);
    }
  });

  it('bad folders and unsupported activations get coded errors', async () => {
    const model = new Sequential([new Dense(2, { inputShape: [4] })]);
    model.build([null, 4]);
    const folder = join(dir, 'bad');
    await model.save(`file://${folder}`);
    const write = editedCopies(folder);
    const traversal = write('escape.json', (j) => (j.weightsManifest[0].paths = ['../../etc/passwd']));
    await expect(loadLayersModel(traversal)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    const huge = write('huge.json', (j) => (j.weightsManifest[0].weights[0].shape = [4e9, 4e9]));
    await expect(loadLayersModel(huge)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    writeFileSync(join(folder, 'short.bin'), new Uint8Array(7));
    const short = write('short.json', (j) => (j.weightsManifest[0].paths = ['short.bin']));
    await expect(loadLayersModel(short)).rejects.toMatchObject({ code: 'ERR_FERRO_IO' });
    // A shard larger than its group declares is refused before it is read.
    writeFileSync(join(folder, 'long.bin'), new Uint8Array(2 ** 20));
    const long = write('long.json', (j) => (j.weightsManifest[0].paths = ['long.bin']));
    await expect(loadLayersModel(long)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringMatching(/holds 1048576 bytes; at most 40 are/) });
    const lambda = write('lambda.json', (j) => (j.modelTopology.config.layers[0].class_name = 'Lambda'));
    await expect(loadLayersModel(lambda)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('Lambda') });
    for (const activation of ['leaky_relu', 'hard_sigmoid'] as const) {
      const m = new Sequential([new Dense(2, { inputShape: [4], activation })]);
      m.build([null, 4]);
      await expect(m.save(`file://${join(dir, activation)}`)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    }
    const keras2 = write('hard.json', (j) => (j.modelTopology.config.layers[0].config.activation = 'hardSigmoid'));
    await expect(loadLayersModel(keras2)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('Keras 2') });
  });

  it('layer names TensorFlow.js refuses at load are refused at save, pointing to .keras; the model name is free', async () => {
    const save = async (layerName: string, modelName = 'm'): Promise<string> => {
      const model = new Sequential([new Dense(2, { inputShape: [4], name: 'first' }), new Dense(2, { name: layerName })], { name: modelName });
      model.build([null, 4]);
      const folder = join(dir, `name-${Math.random().toString(16).slice(2)}`);
      await model.save(`file://${folder}`);
      return folder;
    };
    for (const name of ['my dense', 'dénse', '', '_dense', '.dense']) {
      await expect(save(name)).rejects.toMatchObject({
        code: 'ERR_FERRO_VALUE',
        message: expect.stringMatching(new RegExp(`TensorFlow.js would refuse the whole model. Received: name=${JSON.stringify(name)}.*save as \\.keras`)),
      });
      // TF.js's own check, which the refusal stands for: the same folder renamed by hand.
      const folder = await save('d2');
      const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
      json.modelTopology.config.layers[1].config.name = name;
      for (const w of json.weightsManifest[0].weights) w.name = w.name.replace(/^d2\//, `${name}/`);
      writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
      // ('' is no name to TF.js: it names the layer itself, and its weights then have no target.)
      await expect(tfjsLoad(folder)).rejects.toThrow(name === '' ? /has no target variable/ : /Not a valid tensor name/);
    }
    // What TF.js takes: its name characters, and any model name (it does not check that one).
    for (const [layerName, modelName] of [['x-y.z_1', 'm'], ['d2', 'my model'], ['d2', 'dénse']]) {
      const folder = await save(layerName!, modelName);
      expect((await tfjsLoad(folder)).layers.map((l) => l.name)).toEqual(['first', layerName]);
    }
  });

  describe('a save replaces the previous one whole', () => {
    /** model_a (weights all 1) or model_b (another layer, as many weights, all 2), as the kill fixture makes them. */
    function twin(which: 'a' | 'b'): Sequential {
      const layer = which === 'a' ? new Dense(100, { inputShape: [100] }) : new Dense(101, { inputShape: [100], useBias: false });
      const m = new Sequential([layer], { name: `model_${which}` });
      m.build([null, 100]);
      m.setWeights(m.getWeights().map((w) => new Tensor(new Float32Array(w.size).fill(which === 'a' ? 1 : 2), [...w.shape])));
      return m;
    }
    /** Loads the folder and checks that its config and its weights come from the same save. */
    async function expectWhole(folder: string): Promise<string> {
      const m = await loadLayersModel(`file://${folder}/model.json`);
      const [units, fill] = m.name === 'model_a' ? [100, 1] : [101, 2];
      expect((m.layers[0] as Dense).units).toBe(units);
      for (const w of m.getWeights()) expect(w.data.every((v) => v === fill)).toBe(true);
      return m.name;
    }

    it('concurrent saves into one folder: model.json never names the other save\'s shards', async () => {
      const [a, b] = [twin('a'), twin('b')];
      const folder = join(dir, 'concurrent');
      for (let i = 0; i < 20; i++) {
        await Promise.all([a.save(`file://${folder}`), b.save(`file://${folder}`)]);
        await expectWhole(folder);
      }
    });

    it('a process SIGKILLed between its shards and model.json leaves the previous save loadable', { timeout: 60_000 }, async () => {
      const fixture = fileURLToPath(new URL('./fixtures/tfjs-save-kill.mts', import.meta.url));
      for (let round = 0; round < 3; round++) {
        const folder = join(dir, `killed-${round}`);
        const child = spawn(process.execPath, ['--import', 'tsx', fixture, folder], { stdio: 'ignore' });
        const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
        clearTimeout(killer);
        expect(signal).toBe('SIGKILL');
        // Whichever model.json is in place (almost always model_a's), its own shards are too.
        await expectWhole(folder);
      }
    });

    it("the replaced save's shards are removed, TF.js's names included; other files are left alone", async () => {
      const folder = join(dir, 'replaced');
      const m = tf.sequential();
      m.add(tf.layers.dense({ units: 2, inputShape: [3] }));
      await tfjsSave(m, folder);
      writeFileSync(join(folder, 'notes.txt'), 'mine');
      writeFileSync(join(folder, 'group1-shard1of1.bin.bak'), 'mine');
      const ours = new Sequential([new Dense(2, { inputShape: [3] })]);
      ours.build([null, 3]);
      await ours.save(`file://${folder}`);
      await ours.save(`file://${folder}`);
      const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
      expect(readdirSync(folder).sort()).toEqual([...json.weightsManifest[0].paths, 'group1-shard1of1.bin.bak', 'model.json', 'notes.txt'].sort());
      expect(Array.from((await tfjsLoad(folder)).getWeights()[0]!.dataSync())).toEqual(Array.from(ours.getWeights()[0]!.data));
    });
  });

  it('a config that implies more weights than the manifest lists is refused before any are allocated', async () => {
    const model = new Sequential([new Dense(2, { inputShape: [4] })]);
    model.build([null, 4]);
    const folder = join(dir, 'implies');
    await model.save(`file://${folder}`);
    const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
    // 8000 × 8000 weights: 256 MB, were they built.
    json.modelTopology.config.layers[0].config.units = 8000;
    json.modelTopology.config.layers[0].config.batch_input_shape = [null, 8000];
    writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
    const before = process.memoryUsage().rss;
    await expect(loadLayersModel(`file://${folder}/model.json`)).rejects.toMatchObject({
      code: 'ERR_FERRO_VALUE',
      message: expect.stringMatching(/implies 64008000 weight values\. Received: a weightsManifest of 10/),
    });
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
  });

  it.skipIf(process.platform === 'win32')('a shard that is a symbolic link or a FIFO is refused, not read', async () => {
    const model = new Sequential([new Dense(2, { inputShape: [4] })]);
    model.build([null, 4]);
    const folder = join(dir, 'links');
    await model.save(`file://${folder}`);
    const shard = join(folder, JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')).weightsManifest[0].paths[0]);
    // Outside the folder, and otherwise a valid shard: it would load.
    copyFileSync(shard, join(dir, 'outside.bin'));
    const cases: [string, () => void, RegExp][] = [
      ['outside', () => symlinkSync(join(dir, 'outside.bin'), shard), /a symbolic link/],
      ['/dev/zero', () => symlinkSync('/dev/zero', shard), /a symbolic link/],
      ['fifo', () => execFileSync('mkfifo', [shard]), /a FIFO/],
    ];
    for (const [, make, why] of cases) {
      execFileSync('rm', ['-f', shard]);
      make();
      await expect(loadLayersModel(`file://${folder}/model.json`)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringMatching(why) });
    }
  }, 10_000);

  it('layer names are unique in a model, as Keras requires; an edited model.json repeating one is refused', async () => {
    expect(() => new Sequential([new Dense(2, { inputShape: [2], name: 'd' }), new Dense(2, { name: 'd' })])).toThrow(
      expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining("named 'd'") }),
    );
    const model = new Sequential([new Dense(2, { inputShape: [2], name: 'a' }), new Dense(2, { name: 'b' })]);
    expect(() => model.add(new Dense(1, { name: 'b' }))).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    model.build([null, 2]);
    const folder = join(dir, 'names');
    await model.save(`file://${folder}`);
    const write = editedCopies(folder);
    const layers = write('layers.json', (j) => (j.modelTopology.config.layers[1].config.name = 'a'));
    await expect(loadLayersModel(layers)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining("named 'a'") });
    const weights = write('weights.json', (j) => (j.weightsManifest[0].weights[2].name = 'a/kernel'));
    await expect(loadLayersModel(weights)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('a/kernel twice') });
  });

  it("a weight whose manifest shape is not the layer's is refused, even with the same count", async () => {
    const model = new Sequential([new Dense(3, { inputShape: [4], name: 'd' })]);
    model.build([null, 4]);
    const folder = join(dir, 'shapes');
    await model.save(`file://${folder}`);
    const write = editedCopies(folder);
    const transposed = write('transposed.json', (j) => (j.weightsManifest[0].weights[0].shape = [3, 4]));
    await expect(loadLayersModel(transposed)).rejects.toMatchObject({
      code: 'ERR_FERRO_VALUE',
      message: expect.stringContaining('weight d/kernel has shape [3, 4] in the weightsManifest; the model expects [4, 3]'),
    });
    const reshaped = write('reshaped.json', (j) => (j.weightsManifest[0].weights[1].shape = [1, 3, 1]));
    await expect(loadLayersModel(reshaped)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('d/bias has shape [1, 3, 1]') });
    // What Keras and TF.js default may be left out: initializers, trainable.
    const bare = write('bare.json', (j) => {
      const config = j.modelTopology.config.layers[0].config;
      delete config.kernel_initializer;
      delete config.bias_initializer;
      delete config.trainable;
    });
    const back = await loadLayersModel(bare);
    expect([(back.layers[0] as Dense).kernelInitializer, (back.layers[0] as Dense).biasInitializer]).toEqual(['glorot_uniform', 'zeros']);
    expect(Array.from((await back.predict(x)).data)).toEqual(Array.from((await model.predict(x)).data));
  });

  it('the manifest cannot make the loader read more than the model can use: in all, and each shard once', async () => {
    const model = new Sequential([new Dense(2, { inputShape: [4] })]);
    model.build([null, 4]);
    const folder = join(dir, 'amplified');
    await model.save(`file://${folder}`);
    // 1 MiB shards of skipped optimizer variables: each group alone is within the bound.
    const mib = 2 ** 20;
    for (const name of ['a.bin', 'b.bin']) writeFileSync(join(folder, name), new Uint8Array(mib));
    const group = (shard: string, i: number) => ({ paths: [shard], weights: [{ name: `opt/${i}`, shape: [mib / 4], dtype: 'float32', group: 'optimizer' }] });
    const write = editedCopies(folder);
    const one = write('one.json', (j) => j.weightsManifest.push(group('a.bin', 0)));
    (await loadLayersModel(one)).dispose();
    const again = write('again.json', (j) => j.weightsManifest.push(...Array.from({ length: 50 }, (_, i) => group('a.bin', i))));
    await expect(loadLayersModel(again)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('a.bin twice') });
    const two = write('two.json', (j) => j.weightsManifest.push(group('a.bin', 0), group('b.bin', 1)));
    await expect(loadLayersModel(two)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining(`declares ${2 * mib + 40} bytes of weights; the model has 40`) });
  });

  it('bad arguments and unusable folders get coded errors', async () => {
    await expect(loadLayersModel(42 as unknown as string)).rejects.toMatchObject({ code: 'ERR_FERRO_TYPE', message: expect.stringContaining('Received: 42') });
    const model = new Sequential([new Dense(2, { inputShape: [4] })]);
    model.build([null, 4]);
    writeFileSync(join(dir, 'plain-file'), 'x');
    const under = join(dir, 'plain-file', 'sub');
    await expect(model.save(`file://${under}`)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringContaining(under) });
    await expect(model.save('file://')).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringContaining("created at ''") });
  });

  it('the current learning rate and the dtype policy round-trip; TF.js reads the rate', async () => {
    const model = new Sequential([new Dense(3, { inputShape: [4], activation: 'softmax' })], { dtypePolicy: 'mixed_bfloat16' });
    model.compile({ optimizer: new optimizers.RMSprop({ learningRate: 0.05 }), loss: 'sparse_categorical_crossentropy' });
    model.build([null, 4]);
    model.learningRate = 0.0042; // as ReduceLROnPlateau would
    const folder = join(dir, 'rate');
    await model.save(`file://${folder}`);
    const back = await loadLayersModel(`file://${folder}/model.json`);
    // Rates are float32 on the native side.
    expect(back.learningRate).toBeCloseTo(0.0042, 7);
    expect(back.dtypePolicy).toBe('mixed_bfloat16');
    expect((await tfjsLoad(folder)).optimizer.getConfig().learningRate).toBeCloseTo(0.0042, 7);
  });
});
