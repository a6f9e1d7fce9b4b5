// Fixture for test/tfjs.test.ts, produced by real TensorFlow.js:
//   node test/golden/tfjs_saving.mjs
// (@tensorflow/tfjs 4.22, CPU backend.) A Sequential model with every layer
// kind ferro-nn reads, fixed weights, saved as TF.js's file handler writes a
// folder (model.json + group1-shard1of1.bin) into test/fixtures/tfjs, and
// test/golden/tfjs-saving.json with inputs and TF.js's predictions.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

const dir = new URL('../fixtures/tfjs/', import.meta.url);
mkdirSync(dir, { recursive: true });
const m = tf.sequential({ name: 'tfjs_made' });
m.add(tf.layers.dense({ units: 6, activation: 'relu', inputShape: [4], kernelInitializer: 'heNormal' }));
m.add(tf.layers.dropout({ rate: 0.25 }));
m.add(tf.layers.batchNormalization({ momentum: 0.9 }));
m.add(tf.layers.activation({ activation: 'gelu' }));
m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }) }));
// Fixed weights (a formula, so the file is the same on every run).
// (TF.js orders them trainable first; a variance must stay positive.)
const names = m.weights.map((v) => v.name);
m.setWeights(
  m.getWeights().map((w, k) => {
    const variance = names[k].includes('moving_variance');
    return tf.tensor(Float32Array.from({ length: w.size }, (_, i) => (variance ? 1.2 + Math.sin(i + k) : Math.sin(i * 0.7 + k) * 0.8)), w.shape);
  }),
);
const x = Array.from({ length: 6 }, (_, i) => [Math.cos(i), i / 6 - 0.5, Math.sin(i * 1.3), 0.3 * i]);
await m.save(
  tf.io.withSaveHandler(async (a) => {
    writeFileSync(new URL('group1-shard1of1.bin', dir), new Uint8Array(a.weightData));
    const manifest = [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }];
    const json = { format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy, modelTopology: a.modelTopology, weightsManifest: manifest };
    writeFileSync(new URL('model.json', dir), JSON.stringify(json, null, 1));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }),
);
const predict = m.predict(tf.tensor2d(x)).arraySync();
writeFileSync(new URL('./tfjs-saving.json', import.meta.url), JSON.stringify({ tfjs: tf.version.tfjs, x, predict }, null, 1));
