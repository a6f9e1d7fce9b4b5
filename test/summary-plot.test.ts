import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Dense, FerroTypeError, historyToSvg, plotHistory, Sequential, Tensor } from '../src/index.js';
import { blobs } from './helpers.js';

/**
 * Keras 3.15.1's own output, from:
 *   m = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
 *                         keras.layers.Dense(10, activation="softmax")])
 *   m.summary(print_fn=...)     # and, unbuilt: keras.Sequential([Dense(4), Dense(2)], name="tiny")
 */
const KERAS_SEED_SUMMARY = `Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ dense (Dense)                        │ (None, 512)                 │         401,920 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense_1 (Dense)                      │ (None, 10)                  │           5,130 │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 407,050 (1.55 MB)
 Trainable params: 407,050 (1.55 MB)
 Non-trainable params: 0 (0.00 B)
`;

const KERAS_UNBUILT_SUMMARY = `Model: "tiny"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ dense_2 (Dense)                      │ ?                           │     0 (unbuilt) │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense_3 (Dense)                      │ ?                           │     0 (unbuilt) │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 0 (0.00 B)
 Trainable params: 0 (0.00 B)
 Non-trainable params: 0 (0.00 B)
`;

describe('summary', () => {
  it("prints and returns Keras's table for the seed model, character for character", () => {
    const m = new Sequential(
      [new Dense(512, { activation: 'relu', name: 'dense' }), new Dense(10, { activation: 'softmax', name: 'dense_1' })],
      { name: 'sequential' },
    );
    m.build([null, 784]);
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      printed.push(String(s));
      return true;
    });
    const text = m.summary();
    spy.mockRestore();
    expect(text).toBe(KERAS_SEED_SUMMARY);
    expect(printed.join('')).toBe(KERAS_SEED_SUMMARY);
    expect(m.countParams()).toBe(407050);
  });

  it("takes TF.js's printFn, a call per line, and refuses the layout arguments it does not follow", () => {
    const m = new Sequential([new Dense(512, { activation: 'relu', name: 'dense' }), new Dense(10, { activation: 'softmax', name: 'dense_1' })], {
      name: 'sequential',
    });
    m.build([null, 784]);
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write');
    try {
      expect(m.summary(undefined, undefined, (line) => lines.push(line))).toBe(KERAS_SEED_SUMMARY);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    expect(lines.join('\n') + '\n').toBe(KERAS_SEED_SUMMARY);
    expect(() => m.summary(100)).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringMatching(/lineLength=100$/) }));
    expect(() => m.summary(undefined, [0.5, 1])).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    expect(() => m.summary(undefined, undefined, 'log' as never)).toThrow(expect.objectContaining({ code: 'ERR_FERRO_TYPE' }));
  });

  it('counts a model whose first layer declares its input without building it, so layers can still be added', async () => {
    const m = new Sequential([new Dense(512, { activation: 'relu', name: 'dense', inputShape: [784] })], { name: 'sequential' });
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      m.summary();
      // Keras's add → summary → add: the model is not built by summary().
      m.add(new Dense(10, { activation: 'softmax', name: 'dense_1' }));
      expect(m.countParams()).toBe(407050);
      expect(m.summary()).toBe(KERAS_SEED_SUMMARY);
      expect(m.built).toBe(false);
      // Weights need the model built: getWeights builds it from the declared input.
      expect(m.getWeights().map((w) => w.shape)).toEqual([[784, 512], [512], [512, 10], [10]]);
      expect(m.built).toBe(true);
      expect(() => m.add(new Dense(2))).toThrow(/already built/);
      // During a fit too: summary() reads shapes, never the native side.
      m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
      const x = new Tensor(new Float32Array(256 * 784), [256, 784]);
      const fit = m.fit(x, new Int32Array(256), { epochs: 3, batchSize: 8, verbose: 0 });
      expect(m.summary()).toContain(' Optimizer params: 407,052 (1.55 MB)');
      await fit;
    } finally {
      spy.mockRestore();
    }
  });

  // Keras 3.15.1 after one train_on_batch (compiled with each optimizer by name):
  //   m.summary(print_fn=...) → Total 814,102 (3.11 MB) … Optimizer params: 407,052 (1.55 MB) for the seed model
  //   with rmsprop; a 4 → 5 → 3 model: adam 131 / 88, sgd 45 / 2.
  it("counts the optimizer's variables once it has stepped, as Keras does", async () => {
    const lines = (text: string): string[] => text.split('\n').filter((l) => l.includes('params:'));
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const seed = new Sequential([new Dense(512, { activation: 'relu', inputDim: 784 }), new Dense(10, { activation: 'softmax' })]);
      seed.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
      expect(lines(seed.summary())).toHaveLength(3);
      await seed.trainOnBatch(new Tensor(new Float32Array(2 * 784), [2, 784]), [0, 0]);
      expect(lines(seed.summary())).toEqual([
        ' Total params: 814,102 (3.11 MB)',
        ' Trainable params: 407,050 (1.55 MB)',
        ' Non-trainable params: 0 (0.00 B)',
        ' Optimizer params: 407,052 (1.55 MB)',
      ]);
      // A fit refused before training starts builds no optimizer (Keras checks the data first).
      const refused = new Sequential([new Dense(3, { inputDim: 2 })]);
      refused.compile({ optimizer: 'adam', loss: 'mse' });
      await expect(refused.fit(new Tensor(new Float32Array(8), [4, 2]), new Tensor(new Float32Array(15), [5, 3]), { verbose: 0 })).rejects.toMatchObject({
        code: 'ERR_FERRO_SHAPE',
      });
      expect(lines(refused.summary())).toHaveLength(3);
      for (const [optimizer, total, own] of [['adam', '131 (524.00 B)', '88 (352.00 B)'], ['sgd', '45 (180.00 B)', '2 (8.00 B)']] as const) {
        const m = new Sequential([new Dense(5, { inputDim: 4 }), new Dense(3)]);
        m.compile({ optimizer, loss: 'mse' });
        await m.trainOnBatch(new Tensor(new Float32Array(8), [2, 4]), new Tensor(new Float32Array(6), [2, 3]));
        const [totalLine, , , ownLine] = lines(m.summary());
        expect([totalLine, ownLine]).toEqual([` Total params: ${total}`, ` Optimizer params: ${own}`]);
      }
    } finally {
      quiet.mockRestore();
    }
  });

  it('shows unbuilt layers as Keras does', () => {
    const m = new Sequential([new Dense(4, { name: 'dense_2' }), new Dense(2, { name: 'dense_3' })], { name: 'tiny' });
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(m.summary()).toBe(KERAS_UNBUILT_SUMMARY);
    spy.mockRestore();
  });
});

describe('plotHistory', () => {
  it('writes an SVG with loss and accuracy curves, training and validation', async () => {
    const m = new Sequential([new Dense(8, { activation: 'relu' }), new Dense(3, { activation: 'softmax' })]);
    m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const { x, y } = blobs(200);
    const history = await m.fit(x, y, { epochs: 4, batchSize: 32, verbose: 0, validationSplit: 0.25 });
    expect(m.history).toBe(history);
    const file = join(mkdtempSync(join(tmpdir(), 'ferro-plot-')), 'history.svg');
    await plotHistory(history, file, { title: 'blobs <3 classes>' });
    const svg = readFileSync(file, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('blobs &lt;3 classes&gt;');
    for (const label of ['Loss', 'Accuracy', 'training', 'validation', 'Epoch']) expect(svg).toContain(label);
    expect(svg.match(/<polyline /g)).toHaveLength(4); // 2 panels × (training, validation)
    expect(svg.match(/<circle /g)).toHaveLength(4 * 4); // one dot per epoch on each curve
    expect(svg.match(/stroke-dasharray/g)!.length).toBeGreaterThanOrEqual(2); // validation is dashed
    // Every point lies inside the 900×350 canvas.
    const coords = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((c) => [Number(c[1]), Number(c[2])]);
    expect(coords.every(([cx, cy]) => cx! > 0 && cx! < 900 && cy! > 0 && cy! < 350)).toBe(true);
  });

  it('draws a single epoch and refuses what is not a History', async () => {
    const svg = historyToSvg({ epoch: [0], history: { loss: [0.5], accuracy: [0.8] } });
    expect(svg.match(/<circle /g)).toHaveLength(2);
    expect(() => historyToSvg({} as never)).toThrow(FerroTypeError);
    await expect(plotHistory({ epoch: [], history: { loss: [], accuracy: [] } }, '' as never)).rejects.toThrow(FerroTypeError);
    const missing = join(tmpdir(), 'ferro-no-such-folder', 'h.svg');
    await expect(plotHistory({ epoch: [0], history: { loss: [0.5], accuracy: [0.8] } }, missing)).rejects.toMatchObject({ code: 'ERR_FERRO_IO' });
  });
});
