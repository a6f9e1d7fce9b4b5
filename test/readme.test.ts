/** The README's API tour must compile, strict, against the package's published types. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('API tour type-checks as written (tsc --strict against dist/)', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    const tour = /## API tour\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(tour).toBeDefined();
    // Inside the package, so that 'ferro-nn' resolves to itself through package.json "exports".
    const dir = `${root}test/.readme-tour`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/tour.ts`, `${tour}\nexport {};\n`);
    try {
      const tsc = `${root}node_modules/.bin/tsc`;
      const args = ['--noEmit', '--strict', '--noUncheckedIndexedAccess', '--target', 'es2022', '--module', 'nodenext'];
      const out = execFileSync(tsc, [...args, '--moduleResolution', 'nodenext', '--types', 'node', `${dir}/tour.ts`], {
        cwd: root,
        encoding: 'utf8',
      }).toString();
      expect(out).toBe('');
    } catch (error) {
      throw new Error(`README's API tour does not compile:\n${(error as { stdout?: string }).stdout ?? error}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
