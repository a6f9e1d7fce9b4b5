/**
 * TensorFlow.js's layers format: a folder with model.json (the topology in
 * Keras's snake_case schema, as tfjs-layers writes it, and a weights
 * manifest) and binary shards of little-endian float32 weights. Written as
 * TensorFlow.js 4 writes it (4 MiB shards; trainable weights first, then
 * the non-trainable ones; names `<layer>/<weight>`), read by weight name.
 * Shard file names carry a token per save (tfjs-files.ts says why); TF.js
 * reads whatever names the manifest lists.
 */

import { basename, dirname } from 'node:path';
import { FerroIoError, FerroStateError, FerroTypeError, FerroValueError } from '../errors.js';
import { BatchNormalization } from '../batch-normalization.js';
import type { Layer } from '../layer.js';
import { Dense } from '../layers.js';
import { checkPolicy, type DTypePolicyName } from '../mixed-precision.js';
import { Adagrad, Adam, type Optimizer, RMSprop, SGD } from '../optimizers.js';
import { Sequential } from '../sequential.js';
import type { LossName, MetricName } from '../sequential-options.js';
import { countParams } from '../shapes.js';
import { Tensor } from '../tensor.js';
import { describe } from '../validate.js';
import { readWhole } from './files.js';
import { parseJson } from './json.js';
import { isObject, type KerasObject, layerFromKeras, layerToKeras, open } from './keras-config.js';
import type { Saveable } from './keras.js';
import { readShard, shardNames, writeFolder } from './tfjs-files.js';

/** TensorFlow.js's default shard size. */
const SHARD_BYTES = 4 * 2 ** 20;
/** Largest model.json accepted. */
const MAX_JSON = 64 * 2 ** 20;
/** Keras's activation names that TensorFlow.js spells otherwise, and back. */
const TO_TFJS: Record<string, string> = { silu: 'swish' };
const FROM_TFJS: Record<string, string> = { swish: 'silu' };
/**
 * Activations TensorFlow.js lacks or defines otherwise: it has no
 * leaky_relu, and its hardSigmoid is Keras 2's clip(0.2x + 0.5), not Keras
 * 3's relu6(x + 3) / 6 that ferro-nn computes.
 */
const NOT_IN_TFJS: Record<string, string> = {
  leaky_relu: "TensorFlow.js has no 'leaky_relu' activation",
  hard_sigmoid: "TensorFlow.js's hardSigmoid is Keras 2's clip(0.2x + 0.5), not Keras 3's hard_sigmoid",
};

/**
 * tfjs-layers' tensor-name check (isValidTensorName in its common.ts), which
 * every layer's name meets at load as part of its weights' and outputs'
 * names. '/' passes it but layers refuse it when created, as Keras does.
 */
const TFJS_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

/** Keras's named variance-scaling initializers, as TensorFlow.js serializes them. */
const VARIANCE_SCALING: Record<string, [number, string, string]> = {
  GlorotUniform: [1, 'fan_avg', 'uniform'],
  GlorotNormal: [1, 'fan_avg', 'truncated_normal'],
  HeUniform: [2, 'fan_in', 'uniform'],
  HeNormal: [2, 'fan_in', 'truncated_normal'],
  LecunUniform: [1, 'fan_in', 'uniform'],
  LecunNormal: [1, 'fan_in', 'truncated_normal'],
};

/** A Keras-schema object as tfjs-layers writes it: no module or registered_name, TF.js's spellings. */
function toTfjs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toTfjs);
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  if (typeof o.class_name === 'string' && 'config' in o) {
    const vs = VARIANCE_SCALING[o.class_name];
    if (vs) {
      const [scale, mode, distribution] = vs;
      return { class_name: 'VarianceScaling', config: { scale, mode, distribution: distribution === 'uniform' ? 'uniform' : 'normal', seed: null } };
    }
    return { class_name: o.class_name, config: toTfjs(o.config) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    // TF.js keeps a plain 'float32' on the first layer only, and has no synchronized BatchNormalization.
    if ((k === 'dtype' && typeof v === 'object') || k === 'synchronized') continue;
    out[k] = k === 'activation' && typeof v === 'string' ? (TO_TFJS[v] ?? v) : toTfjs(v);
  }
  return out;
}

/** The reverse of toTfjs for what ferro-nn reads: Keras's class names and activation spellings. */
function fromTfjs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromTfjs);
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  if (o.class_name === 'VarianceScaling' && typeof o.config === 'object' && o.config !== null) {
    const c = o.config as Record<string, unknown>;
    const distribution = c.distribution === 'normal' || c.distribution === 'truncated_normal' ? 'truncated_normal' : c.distribution;
    const found = Object.entries(VARIANCE_SCALING).find(([, [s, m, d]]) => s === c.scale && m === c.mode && d === distribution);
    if (!found) throw new FerroValueError(`ferro-nn does not support the initializer VarianceScaling with ${JSON.stringify(c)}.`);
    return { class_name: found[0], config: { seed: null } };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'activation' && v === 'hardSigmoid') {
      throw new FerroValueError("ferro-nn's hard_sigmoid is Keras 3's; TensorFlow.js's hardSigmoid (Keras 2's clip(0.2x + 0.5)) is not supported.");
    }
    out[k] = k === 'activation' && typeof v === 'string' ? (FROM_TFJS[v] ?? v) : fromTfjs(v);
  }
  return out;
}

/** The weight names of a layer, in its weights' order. */
function weightNames(layer: Layer): string[] {
  const kinds =
    layer instanceof Dense
      ? ['kernel', ...(layer.useBias ? ['bias'] : [])]
      : layer instanceof BatchNormalization
        ? [...(layer.scale ? ['gamma'] : []), ...(layer.center ? ['beta'] : []), 'moving_mean', 'moving_variance']
        : [];
  return kinds.map((n) => `${layer.name}/${n}`);
}

/**
 * ferro-nn's loss names as TF.js resolves them (it camel-cases the name and
 * looks it up in its lossesMap); TF.js has no huber there. An unknown name
 * makes TF.js refuse the whole model, not just its compile settings.
 */
const TFJS_LOSSES: Record<string, string> = {
  sparse_categorical_crossentropy: 'sparse_categorical_crossentropy',
  sparseCategoricalCrossentropy: 'sparse_categorical_crossentropy',
  categorical_crossentropy: 'categorical_crossentropy',
  categoricalCrossentropy: 'categorical_crossentropy',
  binary_crossentropy: 'binary_crossentropy',
  binaryCrossentropy: 'binary_crossentropy',
  mean_squared_error: 'mean_squared_error',
  mse: 'mean_squared_error',
  meanSquaredError: 'mean_squared_error',
  mean_absolute_error: 'mean_absolute_error',
  mae: 'mean_absolute_error',
  meanAbsoluteError: 'mean_absolute_error',
};
/**
 * ferro-nn's metric names as TF.js resolves them ('accuracy' and 'acc' are
 * TF.js's own, the rest through its metricsMap); the others (rmse, recall,
 * auc, top-k, sparse_categorical_accuracy) are left out. ferro-nn reports
 * accuracy whatever the metrics.
 */
const TFJS_METRICS: Record<string, string> = {
  accuracy: 'accuracy',
  acc: 'acc',
  mae: 'mae',
  mean_absolute_error: 'mae',
  mse: 'mse',
  mean_squared_error: 'mse',
  binary_accuracy: 'binary_accuracy',
  categorical_accuracy: 'categorical_accuracy',
  precision: 'precision',
};

/**
 * TensorFlow.js's trainingConfig for a compiled model, when TF.js has its
 * optimizer: SGD (Momentum with momentum), RMSprop, Adam without amsgrad,
 * Adagrad, at a constant rate, without weight decay or clipping, and its
 * loss. Otherwise none (TF.js itself saves none unless asked): the model
 * loads uncompiled.
 */
function trainingConfig(model: Saveable): Record<string, unknown> | undefined {
  const compiled = model.compileConfig();
  if (!compiled) return undefined;
  const spec = compiled.optimizer.spec();
  if (spec.schedule || spec.weightDecay || spec.clipnorm || spec.clipvalue || spec.globalClipnorm) return undefined;
  // The rate the next step would use (a callback or ReduceLROnPlateau may have changed it), as Keras saves it.
  const lr = model.learningRate;
  const optimizer: Record<string, [string, Record<string, unknown>] | undefined> = {
    SGD: spec.momentum
      ? ['Momentum', { learningRate: lr, momentum: spec.momentum, useNesterov: spec.nesterov ?? false }]
      : ['SGD', { learningRate: lr }],
    RMSprop: ['RMSProp', { learningRate: lr, decay: spec.rho ?? 0.9, momentum: spec.momentum ?? 0, epsilon: spec.epsilon ?? 1e-7, centered: spec.centered ?? false }],
    Adam: spec.amsgrad ? undefined : ['Adam', { learningRate: lr, beta1: spec.beta1 ?? 0.9, beta2: spec.beta2 ?? 0.999, epsilon: spec.epsilon ?? 1e-7 }],
    Adagrad: ['Adagrad', { learningRate: lr, initialAccumulatorValue: spec.initialAccumulatorValue ?? 0.1 }],
  };
  const found = optimizer[spec.name];
  const loss = compiled.loss;
  // Loss objects with options have no TF.js spelling; plain names do.
  const name = typeof loss === 'string' ? loss : loss.fromLogits || loss.labelSmoothing ? undefined : loss.name;
  const lossName = name !== undefined && Object.hasOwn(TFJS_LOSSES, name) ? TFJS_LOSSES[name] : undefined;
  if (!found || !lossName) return undefined;
  const metrics = new Set(compiled.metrics.flatMap((m) => (Object.hasOwn(TFJS_METRICS, m) ? [TFJS_METRICS[m]!] : [])));
  return { loss: lossName, metrics: [...metrics], optimizer_config: { class_name: found[0], config: found[1] } };
}

/** A trainingConfig's optimizer and loss as compile arguments, when ferro-nn has them. */
function compileFromTraining(value: unknown): { optimizer: Optimizer; loss: string; metrics: string[] } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const t = value as { loss?: unknown; metrics?: unknown; optimizer_config?: { class_name?: unknown; config?: Record<string, unknown> } };
  const c = t.optimizer_config?.config ?? {};
  const num = (k: string): number | undefined => (typeof c[k] === 'number' ? (c[k] as number) : undefined);
  const learningRate = num('learningRate') ?? num('learning_rate');
  const make: Record<string, () => Optimizer> = {
    SGD: () => new SGD({ learningRate }),
    Momentum: () => new SGD({ learningRate, momentum: num('momentum'), nesterov: c.useNesterov === true || c.use_nesterov === true }),
    RMSProp: () => new RMSprop({ learningRate, rho: num('decay'), momentum: num('momentum'), epsilon: num('epsilon'), centered: c.centered === true }),
    Adam: () => new Adam({ learningRate, beta1: num('beta1') ?? num('beta_1'), beta2: num('beta2') ?? num('beta_2'), epsilon: num('epsilon') }),
    Adagrad: () => new Adagrad({ learningRate, initialAccumulatorValue: num('initialAccumulatorValue') ?? num('initial_accumulator_value') }),
  };
  const className = t.optimizer_config?.class_name;
  const ctor = typeof className === 'string' && Object.hasOwn(make, className) ? make[className] : undefined;
  if (!ctor) throw new FerroValueError(`ferro-nn does not support the TensorFlow.js optimizer ${String(className)}.`);
  if (typeof t.loss !== 'string') throw new FerroValueError('ferro-nn takes a TensorFlow.js model with one loss, by name.');
  // TF.js writes {} for a model compiled without metrics.
  const metrics = t.metrics === undefined || (isObject(t.metrics) && Object.keys(t.metrics).length === 0) ? [] : t.metrics;
  if (!Array.isArray(metrics) || !metrics.every((m) => typeof m === 'string')) {
    throw new FerroValueError('ferro-nn takes metrics by name.');
  }
  return { optimizer: ctor(), loss: t.loss, metrics: metrics as string[] };
}

/** Writes `model` as TensorFlow.js's layers format into the folder `url` names ('file://dir'). */
export async function saveTfjs(model: Saveable, url: string): Promise<void> {
  const dir = url.replace(/^file:\/\//, '');
  if (!model.built) throw new FerroStateError('The model is not built yet: build or fit it before save().');
  for (const l of model.layers) {
    const a = (l as { activation?: string }).activation;
    const why = a === undefined ? undefined : NOT_IN_TFJS[a];
    if (why) throw new FerroValueError(`${why} (layer '${l.name}'): save as .keras instead.`);
    if (!TFJS_NAME.test(l.name)) {
      throw new FerroValueError(
        `Expected layer names TensorFlow.js can load: ASCII letters, digits, '.', '_' and '-', starting with a letter or digit; TensorFlow.js would refuse the whole model. Received: name=${JSON.stringify(l.name)}. Rename the layer, or save as .keras instead.`,
      );
    }
  }
  const layers = model.layers.map((l, i) => {
    const k = layerToKeras(l, l.builtInputDim!) as KerasObject;
    const config = toTfjs(k.config) as Record<string, unknown>;
    if (i === 0) Object.assign(config, { batch_input_shape: [null, l.builtInputDim], dtype: 'float32' });
    return { class_name: k.class_name, config };
  });
  // Weights: every layer's trainable ones, then the non-trainable ones, as TF.js orders them.
  const all = model.getWeights();
  const specs: { name: string; shape: number[]; dtype: 'float32'; data: Float32Array }[] = [];
  const rest: typeof specs = [];
  let at = 0;
  for (const layer of model.layers) {
    const names = weightNames(layer);
    const trainable = layer.trainableCount(layer.builtInputDim!);
    names.forEach((name, i) => {
      const w = all[at + i]!;
      (i < trainable ? specs : rest).push({ name, shape: [...w.shape], dtype: 'float32', data: w.data as Float32Array });
    });
    at += names.length;
  }
  specs.push(...rest);
  const bytes = new Uint8Array(specs.reduce((n, s) => n + s.data.byteLength, 0));
  let offset = 0;
  for (const s of specs) {
    bytes.set(new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength), offset);
    offset += s.data.byteLength;
  }
  const shards = Array.from({ length: Math.max(1, Math.ceil(bytes.length / SHARD_BYTES)) }, (_, i) =>
    bytes.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES),
  );
  const paths = shardNames(shards.length);
  const training = trainingConfig(model);
  const json = {
    format: 'layers-model',
    generatedBy: 'ferro-nn',
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: model.name, layers },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [{ paths, weights: specs.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
    ...(training ? { trainingConfig: training } : {}),
    // TF.js has no dtype policies (a layer's dtype is a tensor dtype there);
    // userDefinedMetadata is TF.js's place for what its loader does not use.
    ...(model.dtypePolicy === 'float32' ? {} : { userDefinedMetadata: { ferro_nn: { dtype_policy: model.dtypePolicy } } }),
  };
  await writeFolder(dir, paths, shards, new TextEncoder().encode(JSON.stringify(json)));
}

/** One weight of a weightsManifest group, as read (any field may be anything). */
interface WeightEntry {
  name?: unknown;
  shape?: unknown;
  dtype?: unknown;
  group?: unknown;
}

/** The model's dtype policy, which ferro-nn records in userDefinedMetadata; float32 when absent. */
function policyOf(json: { userDefinedMetadata?: unknown }): DTypePolicyName {
  const policy = (json.userDefinedMetadata as { ferro_nn?: { dtype_policy?: unknown } } | undefined)?.ferro_nn?.dtype_policy;
  return policy === undefined ? 'float32' : checkPolicy(policy, 'the dtype policy');
}

/** One weightsManifest group, checked: its shard names and its weights' names and sizes. */
function readGroup(group: unknown, path: string): { paths: string[]; specs: { name: string; shape: number[]; size: number; skipped: boolean }[] } {
  if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
    throw new FerroValueError(`${path}: a malformed weightsManifest group.`);
  }
  const { paths, weights: entries } = group as { paths: unknown[]; weights: unknown[] };
  for (const p of paths) {
    if (typeof p !== 'string' || p !== basename(p) || p === '..' || p === '.' || p === '') {
      throw new FerroValueError(`${path}: shard path ${JSON.stringify(p)} is not a file name in the model's folder.`);
    }
  }
  const specs = entries.map((entry) => {
    const w = (isObject(entry) ? entry : {}) as WeightEntry;
    const shape = w.shape;
    if (typeof w.name !== 'string' || !Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new FerroValueError(`${path}: a malformed weight entry ${JSON.stringify(entry)?.slice(0, 100)}.`);
    }
    // The optimizer's variables TF.js saves with includeOptimizer are skipped (not restored).
    const skipped = w.group === 'optimizer';
    if (w.dtype !== 'float32' && !(skipped && w.dtype === 'int32')) {
      throw new FerroValueError(`${path}: weight ${w.name} is ${String(w.dtype)}; ferro-nn reads float32.`);
    }
    return { name: w.name, shape: shape as number[], size: (shape as number[]).reduce((a, b) => a * b, 1), skipped };
  });
  return { paths: paths as string[], specs };
}

/** The model in a TensorFlow.js layers-format model.json (and its shards), given as 'file://dir/model.json'. */
export async function loadTfjs(url: string): Promise<Sequential> {
  if (typeof url !== 'string') throw new FerroTypeError(`Expected a URL such as 'file://dir/model.json'. Received: ${describe(url)}`);
  const path = url.replace(/^file:\/\//, '');
  const text = await readWhole(path, MAX_JSON);
  // Bounded nesting: the config readers below recurse.
  const parsed = parseJson(text, path);
  if (!isObject(parsed)) {
    throw new FerroValueError(`${path}: expected a model.json object. Received: ${JSON.stringify(parsed)?.slice(0, 80)}`);
  }
  const json: { format?: unknown; modelTopology?: unknown; weightsManifest?: unknown; trainingConfig?: unknown } = parsed;
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new FerroValueError(`ferro-nn loads TensorFlow.js layers models. Received: format '${String(json.format)}' in ${path}`);
  }
  const topology = (json.modelTopology as { model_config?: unknown })?.model_config ?? json.modelTopology;
  const [className, r] = open(topology, 'the model');
  if (className !== 'Sequential') throw new FerroValueError(`ferro-nn loads Sequential models. Received: a ${className} in ${path}`);
  const layerConfigs = r.get('layers');
  if (!Array.isArray(layerConfigs) || layerConfigs.length === 0) throw new FerroValueError(`${path}: the model has no layers.`);
  const layers = layerConfigs.map((l: unknown, i: number) => {
    const keras = fromTfjs(l);
    open(keras, `layer ${i} of ${path}`); // a class_name and an object config, or a coded error
    const { config: given, ...rest } = keras as { class_name: string; config?: Record<string, unknown> };
    const { batch_input_shape: shape, dtype: _, ...config } = given ?? {};
    const first = i === 0 && Array.isArray(shape) && shape.length === 2 && typeof shape[1] === 'number' ? [shape[1]] : undefined;
    if (i === 0 && !first) throw new FerroValueError(`${path}: the first layer has no batch_input_shape [null, features].`);
    return layerFromKeras({ ...rest, config, module: 'keras.layers', registered_name: null }, first);
  });
  const name = r.string('name');
  // Not built yet: building allocates the weights, which waits until the manifest and shards agree with the config.
  const model = new Sequential(layers, { ...(name === undefined ? {} : { name }), dtypePolicy: policyOf(parsed) });
  const params = countParams(layers, layers[0]!.inputDim);
  // Weights by name, from the shards the manifest lists (file names only: no paths out of the folder).
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) throw new FerroValueError(`${path} has no weightsManifest.`);
  const groups = manifest.map((g) => readGroup(g, path));
  const seen = new Set<string>();
  let declared = 0;
  for (const s of groups.flatMap((g) => g.specs.filter((w) => !w.skipped))) {
    if (seen.has(s.name)) throw new FerroValueError(`${path}: expected each weight once in the weightsManifest. Received: ${s.name} twice`);
    seen.add(s.name);
    declared += s.size;
  }
  if (declared !== params) {
    throw new FerroValueError(`${path}: the layers' config implies ${params} weight values. Received: a weightsManifest of ${declared}`);
  }
  // Bounded over the whole manifest, not per group, and each shard read once:
  // otherwise many groups naming one shard would read it over and over.
  // The optimizer's variables, which are skipped, are bounded too: TF.js's
  // optimizers keep at most three per weight (RMSprop centered with
  // momentum; Adam two), saved with includeOptimizer.
  const listed = new Set<string>();
  let bytes = 0;
  for (const { paths, specs } of groups) {
    for (const p of paths) {
      if (listed.has(p)) throw new FerroValueError(`${path}: expected each shard once in the weightsManifest. Received: ${p} twice`);
      listed.add(p);
    }
    bytes += specs.reduce((n, s) => n + s.size * 4, 0);
  }
  if (bytes > 4 * params * 4 + 2 ** 20) {
    throw new FerroValueError(`${path}: the manifest declares ${bytes} bytes of weights; the model has ${params * 4}.`);
  }
  const byName = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const { paths, specs } of groups) {
    const expected = specs.reduce((n, s) => n + s.size * 4, 0);
    const parts: Uint8Array[] = [];
    // No shard can hold more than the group declares in all.
    for (const p of paths) parts.push(await readShard(dirname(path), p, expected));
    const total = parts.reduce((n, p) => n + p.length, 0);
    if (total !== expected) throw new FerroIoError(`${path}: the shards hold ${total} bytes; the manifest declares ${expected}.`);
    const all = new Uint8Array(total);
    let offset = 0;
    for (const p of parts) {
      all.set(p, offset);
      offset += p.length;
    }
    offset = 0;
    for (const s of specs) {
      if (!s.skipped) byName.set(s.name, { data: new Float32Array(all.slice(offset, offset + s.size * 4).buffer), shape: s.shape });
      offset += s.size * 4;
    }
  }
  model.build([null, layers[0]!.inputDim!]);
  const weights = model.layers.flatMap((layer) => {
    const shapes = layer.weightShapes(layer.builtInputDim!);
    return weightNames(layer).map((n, i) => {
      const found = byName.get(n);
      if (!found) throw new FerroValueError(`${path} has no weight ${n}.`);
      const want = shapes[i]!;
      // The same count is not enough: a transposed kernel would load with its values out of place.
      if (found.shape.length !== want.length || found.shape.some((d, k) => d !== want[k])) {
        throw new FerroValueError(`${path}: weight ${n} has shape [${found.shape.join(', ')}] in the weightsManifest; the model expects [${want.join(', ')}].`);
      }
      return new Tensor(found.data, want);
    });
  });
  model.setWeights(weights);
  const compile = compileFromTraining((json as { trainingConfig?: unknown }).trainingConfig);
  if (compile) model.compile({ optimizer: compile.optimizer, loss: compile.loss as LossName, metrics: compile.metrics as MetricName[] });
  return model;
}
