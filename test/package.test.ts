/**
 * What npm publishes: the file list of the root package, its entry points,
 * and documentation on every public declaration and option of the shipped types.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { TARGETS } from '../scripts/platforms/targets.mjs';
import { PUBLISHED_FILE } from '../scripts/published-files.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

describe('published package', () => {
  it('npm pack holds only the build, the public types, the loader, README and LICENSE', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: root, encoding: 'utf8' });
    const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
    expect(files.filter((f) => !PUBLISHED_FILE.test(f))).toEqual([]);
    for (const needed of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'native/index.cjs', 'LICENSE', 'README.md']) {
      expect(files).toContain(needed);
    }
    expect(files.some((f) => /^(crate|src|test|bench|examples|scripts|fuzz|npm)\//.test(f) || f.endsWith('.node'))).toBe(false);
  });

  it('exports resolve for import and require, to one implementation', async () => {
    const esm = await import(`${root}dist/index.js`);
    const cjs = createRequire(import.meta.url)(`${root}dist/index.cjs`);
    expect(Object.keys(esm).sort()).toEqual(Object.keys(cjs).sort());
    expect(pkg.exports['.'].import.default).toBe('./dist/index.js');
    expect(pkg.exports['.'].require.default).toBe('./dist/index.cjs');
    expect(pkg.exports['.'].require.types).toBe('./dist/index.d.cts');
    // In plain Node (vitest loads modules its own way): one copy of every export, through the exports map.
    const script = `
      import { createRequire } from 'node:module';
      const esm = await import('ferro-nn');
      const cjs = createRequire(${JSON.stringify(`${root}package.json`)})('ferro-nn');
      const model = new esm.Sequential([new esm.Dense(2, { activation: 'softmax', inputDim: 2 })]);
      model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
      await model.fit(new cjs.Tensor([[0, 1], [1, 0]]), new cjs.Tensor(new Int32Array([0, 1])), { verbose: 0 });
      const error = await model.predict('x').catch((e) => e);
      console.log(JSON.stringify({
        differ: Object.keys(cjs).filter((name) => esm[name] !== cjs[name]),
        errorIsOneClass: error instanceof cjs.FerroTypeError && error instanceof esm.FerroError,
      }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ differ: [], errorIsOneClass: true });
  });

  it('the napi field names the seven targets and has a platform package for each, with its os/cpu/libc', () => {
    expect(pkg.napi.binaryName).toBe('ferro-nn');
    expect(pkg.napi.targets).toEqual(TARGETS.map((t) => t.triple));
    expect(readdirSync(`${root}npm`).sort()).toEqual(TARGETS.map((t) => t.platform).sort());
    for (const t of TARGETS) {
      const sub = JSON.parse(readFileSync(`${root}npm/${t.platform}/package.json`, 'utf8'));
      expect(sub).toMatchObject({ name: `ferro-nn-${t.platform}`, version: pkg.version, main: `ferro-nn.${t.platform}.node`, os: [t.os], cpu: [t.cpu] });
      expect(sub.libc).toEqual(t.libc ? [t.libc] : undefined);
    }
  });

  it('every public declaration, member and option of the shipped types has JSDoc', () => {
    const program = ts.createProgram([`${root}dist/index.d.ts`], { strict: true, module: ts.ModuleKind.NodeNext });
    const checker = program.getTypeChecker();
    const index = checker.getSymbolAtLocation(program.getSourceFile(`${root}dist/index.d.ts`)!)!;
    const undocumented: string[] = [];
    const documented = (node: ts.Node) => ts.getJSDocCommentsAndTags(node).length > 0;
    for (const exported of checker.getExportsOfModule(index)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      for (const decl of symbol.declarations ?? []) {
        const node = ts.isVariableDeclaration(decl) ? decl.parent.parent : decl;
        if (!documented(node)) undocumented.push(exported.name);
        if (!ts.isInterfaceDeclaration(decl) && !ts.isClassDeclaration(decl)) continue;
        for (const member of decl.members) {
          const flags = ts.getCombinedModifierFlags(member as ts.Declaration);
          if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
          // `#private;`: tsc's stand-in for ECMAScript private members, which callers cannot reach.
          if (member.name && ts.isPrivateIdentifier(member.name)) continue;
          if (!documented(member)) undocumented.push(`${exported.name}.${member.name?.getText() ?? 'constructor'}`);
        }
      }
    }
    expect(undocumented).toEqual([]);
  });
});

describe('one binary for every x86-64 CPU', () => {
  it('kernelIsa() reports the run-time choice, and honours FERRO_NN_FORCE_SCALAR and FERRO_NN_ISA', async () => {
    const { kernelIsa } = await import(`${root}dist/index.js`);
    const isa: string = kernelIsa();
    expect(['scalar', 'avx2+fma', 'avx512']).toContain(isa);
    // npm run test:isa runs this suite under both settings, so each assertion is exercised in CI.
    if (process.env.FERRO_NN_FORCE_SCALAR === '1' || process.env.FERRO_NN_ISA === 'scalar') expect(isa).toBe('scalar');
    if (process.env.FERRO_NN_ISA === 'avx2') expect(isa).not.toBe('avx512');
    if (process.platform === 'linux' && process.arch === 'x64' && !process.env.FERRO_NN_ISA && !process.env.FERRO_NN_FORCE_SCALAR) {
      const flags = readFileSync('/proc/cpuinfo', 'utf8');
      const expected = /\bavx512f\b/.test(flags) ? 'avx512' : /\bavx2\b/.test(flags) && /\bfma\b/.test(flags) ? 'avx2+fma' : 'scalar';
      expect(isa).toBe(expected);
    }
  });
});
