// npm run test:install: what a user gets from npm, without a Rust toolchain.
// Installs the pack/ tarballs (npm run package) into an empty project with
// cargo removed from PATH, then checks: ESM import, CommonJS require, both in
// one process sharing one implementation, strict
// TypeScript programs (ESM and CommonJS) that train through the shipped types,
// a misspelt activation as a compile error, mnist.loadData() from the
// installed package, the error when no binary fits the platform, and that
// the root package holds no sources, tests or binaries.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPlatform } from './platforms/targets.mjs';
import { PUBLISHED_FILE } from './published-files.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pack = join(root, 'pack');
// The root package and this machine's platform package (the others are for other systems).
const host = hostPlatform();
const tarballs = existsSync(pack) ? readdirSync(pack).filter((f) => /^ferro-nn-\d/.test(f) || f.startsWith(`ferro-nn-${host}-`)) : [];
if (tarballs.length < 2) throw new Error(`test:install: run npm run package first (pack/ needs the root and the ${host} tarball)`);

// No Rust: drop every PATH entry that holds cargo or rustc.
const path = process.env.PATH.split(delimiter)
  .filter((dir) => !['cargo', 'rustc', 'rustup'].some((tool) => existsSync(join(dir, tool))))
  .join(delimiter);
const env = { ...process.env, PATH: path };
delete env.FERRO_NN_FORCE_SCALAR;
if (spawnSync('cargo', ['--version'], { env }).error?.code !== 'ENOENT') throw new Error('test:install: cargo is still on PATH');

const dir = mkdtempSync(join(tmpdir(), 'ferro-nn-install-'));
const run = (cmd, args, options = {}) => execFileSync(cmd, args, { cwd: dir, env, encoding: 'utf8', ...options });
const check = (what, f) => {
  f();
  console.log(`  ok  ${what}`);
};
console.log(`test:install: ${tarballs.join(', ')} into ${dir}, no cargo on PATH`);

writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.map((t) => join(pack, t)), 'typescript@5', '@types/node@20']);

const program = (module) => `
${module}
const x = new Tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
const model = new Sequential([new Dense(8, { activation: 'tanh', inputDim: 2 }), new Dense(2, { activation: 'softmax' })]);
model.compile({ optimizer: new RMSprop({ learningRate: 0.05 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
const run = async () => {
  const history = await model.fit(x, [0, 1, 1, 0], { epochs: 300, batchSize: 4, verbose: 0 });
  const { accuracy } = await model.evaluate(x, [0, 1, 1, 0]);
  if (history.epoch.length !== 300 || accuracy !== 1) throw new Error('XOR not learned: ' + accuracy);
  console.log('trained', accuracy, kernelIsa());
};
`;

check('ESM: import { Sequential } from "ferro-nn"', () => {
  writeFileSync(join(dir, 'esm.mjs'), `${program("import { Dense, RMSprop, Sequential, Tensor, kernelIsa } from 'ferro-nn';")}\nawait run();\n`);
  if (!run('node', ['esm.mjs']).startsWith('trained 1')) throw new Error('ESM program failed');
});

check("CommonJS: require('ferro-nn')", () => {
  const cjs = program("const { Dense, RMSprop, Sequential, Tensor, kernelIsa } = require('ferro-nn');");
  writeFileSync(join(dir, 'cjs.cjs'), `${cjs}\nrun();\n`);
  if (!run('node', ['cjs.cjs']).startsWith('trained 1')) throw new Error('CommonJS program failed');
});

check('import and require in one process: one implementation, one FerroError', () => {
  const both = `
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('ferro-nn');
const esm = await import('ferro-nn');
if (cjs.Tensor !== esm.Tensor || cjs.Sequential !== esm.Sequential) throw new Error('two copies of the classes');
const model = new esm.Sequential([new esm.Dense(2, { activation: 'softmax', inputDim: 2 })]);
model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
await model.fit(new cjs.Tensor([[0, 1], [1, 0]]), new cjs.Tensor(new Int32Array([0, 1])), { epochs: 2, verbose: 0 });
const thrown = (f) => { try { f(); } catch (error) { return error; } throw new Error('expected a throw'); };
if (!(thrown(() => new cjs.Tensor('x')) instanceof esm.FerroError)) throw new Error('an error from require is not an imported FerroError');
if (!(thrown(() => new esm.Tensor('x')) instanceof cjs.FerroTypeError)) throw new Error('an error from import is not a required FerroTypeError');
console.log('one implementation');
`;
  writeFileSync(join(dir, 'both.mjs'), both);
  if (run('node', ['both.mjs']).trim() !== 'one implementation') throw new Error('import and require differ');
});

const tsconfig = { compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], outDir: 'out', skipLibCheck: false } };
check('TypeScript, tsc --strict against the shipped types, trains a model', () => {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['train.mts'] }));
  const ts = `${program("import { Dense, RMSprop, Sequential, Tensor, kernelIsa, type History } from 'ferro-nn';")}
const typed: Promise<History> = model.fit(x, [0, 1, 1, 0], { epochs: 1, verbose: 0 });
await typed;
await run();
`;
  writeFileSync(join(dir, 'train.mts'), ts);
  run(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json']);
  if (!run('node', ['out/train.mjs']).startsWith('trained 1')) throw new Error('compiled TypeScript program failed');
});

check('TypeScript CommonJS (.cts) resolves the require types', () => {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['train.cts'] }));
  writeFileSync(join(dir, 'train.cts'), `${program("import { Dense, RMSprop, Sequential, Tensor, kernelIsa } from 'ferro-nn';")}\nrun();\n`);
  run(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json']);
  if (!run('node', ['out/train.cjs']).startsWith('trained 1')) throw new Error('compiled CommonJS TypeScript program failed');
});

check("a misspelt activation ('rleu') is a compile error", () => {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['bad.mts'] }));
  writeFileSync(join(dir, 'bad.mts'), "import { Dense } from 'ferro-nn';\nnew Dense(4, { activation: 'rleu' });\n");
  const result = spawnSync(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir, env, encoding: 'utf8' });
  if (result.status === 0 || !/'"rleu"' is not assignable to type 'ActivationName/.test(result.stdout)) {
    throw new Error(`expected a type error for 'rleu'; tsc said: ${result.stdout}`);
  }
});

check('mnist.loadData() from the installed package', () => {
  writeFileSync(
    join(dir, 'mnist.mjs'),
    "import { mnist } from 'ferro-nn';\nconst [[x, y], [xt]] = await mnist.loadData();\nconsole.log(x.shape.join('x'), y.size, xt.shape[0]);\n",
  );
  const out = run('node', ['mnist.mjs']).trim();
  if (out !== '60000x28x28 60000 10000') throw new Error(`loadData gave ${out}`);
});

check('a model saved as .keras from require() loads back, and exports to ONNX and TF.js (h5wasm, fflate, onnx-proto from the install)', () => {
  writeFileSync(
    join(dir, 'save.cjs'),
    [
      "const { Sequential, Dense, loadModel } = require('ferro-nn');",
      '(async () => {',
      "  const m = new Sequential([new Dense(3, { inputShape: [2], activation: 'softmax' })]);",
      '  m.build([null, 2]);',
      "  await m.save('m.keras');",
      "  const back = await loadModel('m.keras');",
      '  const [a, b] = [await m.predict([[1, 2]]), await back.predict([[1, 2]])];',
      "  console.log(a.data.every((v, i) => v === b.data[i]) ? 'same' : 'different');",
      '})();',
    ].join('\n'),
  );
  const out = run('node', ['save.cjs']).trim();
  if (out !== 'same') throw new Error(`the loaded model predicts ${out}`);
});

check('the root package holds the build, the types and the loader only', () => {
  const files = run('find', ['node_modules/ferro-nn', '-type', 'f']).trim().split('\n').map((f) => f.replace('node_modules/ferro-nn/', ''));
  const stray = files.filter((f) => !PUBLISHED_FILE.test(f));
  if (stray.length) throw new Error(`unexpected files in the package: ${stray.join(', ')}`);
  if (files.some((f) => f.endsWith('.node'))) throw new Error('a binary in the root package');
});

check('without a binary for the platform, the error names it and says what to do', () => {
  const binary = readdirSync(join(dir, 'node_modules')).find((d) => d.startsWith('ferro-nn-'));
  renameSync(join(dir, 'node_modules', binary), join(dir, 'moved-binary'));
  try {
    const result = spawnSync('node', ['esm.mjs'], { cwd: dir, env, encoding: 'utf8' });
    const platform = `${process.platform}-${process.arch}`;
    const named = result.stderr.includes(`no native binary could be loaded for ${platform}`) && result.stderr.includes('Reinstall ferro-nn');
    // Its own code, printed after the stack (the loader's error, as [cause], has one too).
    const coded = /\n {2}code: 'ERR_FERRO_NO_BINARY'/.test(result.stderr.split('[cause]')[0]);
    if (result.status === 0 || !named || !coded) {
      throw new Error(`unhelpful error: ${result.stderr.slice(0, 500)}`);
    }
  } finally {
    renameSync(join(dir, 'moved-binary'), join(dir, 'node_modules', binary));
  }
});

rmSync(dir, { recursive: true, force: true });
console.log('test:install: all checks passed');
