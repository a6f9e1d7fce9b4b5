/** The README's code must compile, strict, against the package's published types; the quick start must also run. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');
// Inside the package, so that 'ferro-nn' resolves to itself through package.json "exports".
const dir = `${root}test/.readme-code`;

function block(after: RegExp): string {
  const code = new RegExp(`${after.source}\\s+\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme)?.[1];
  if (code === undefined) throw new Error(`README has no ts block after ${after}`);
  return code;
}

function compile(name: string, code: string): string {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${name}.mts`;
  writeFileSync(file, `${code}\nexport {};\n`);
  const tsc = `${root}node_modules/.bin/tsc`;
  const args = ['--noEmit', '--strict', '--noUncheckedIndexedAccess', '--target', 'es2022', '--module', 'nodenext'];
  try {
    execFileSync(tsc, [...args, '--moduleResolution', 'nodenext', '--types', 'node', file], { cwd: root, encoding: 'utf8' });
  } catch (error) {
    throw new Error(`README's ${name} does not compile:\n${(error as { stdout?: string }).stdout ?? error}`);
  }
  return file;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README', () => {
  it('API tour type-checks as written (tsc --strict against dist/)', () => {
    compile('tour', block(/## API tour/));
  });

  it('the saving and long-run snippets type-check, given the model, x and y they use', () => {
    const given = "import type { Sequential, Tensor } from 'ferro-nn';\ndeclare const model: Sequential;\ndeclare const x: Tensor<'float32'>;\ndeclare const y: Tensor<'uint8'>;\n";
    compile('saving', given + block(/## Saving and loading/));
    compile('long-runs', given + block(/Callbacks for long runs, with Keras's semantics:/));
  });

  it('quick start type-checks, runs, and prints what its comment says', () => {
    const code = block(/Quick start:/);
    // As written: it seeds itself, so that the run cannot be the rare initialisation that needs more epochs.
    expect(code).toContain('setRandomSeed(');
    const file = compile('quickstart', code);
    const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
    expect(out.trim()).toBe('Int32Array(4) [ 0, 1, 1, 0 ]');
  });
});
