// What the root npm package may hold: the two entry points (index.cjs the one
// implementation, index.js its ESM face), the public types, the napi loader,
// README and LICENSE. Checked on `npm pack --dry-run` by
// test/package.test.ts and on the installed package by scripts/test-install.mjs.
export const PUBLISHED_FILE = /^(dist\/index\.(js|cjs)|dist\/([a-z]+\/)?[a-z0-9]+(-[a-z0-9]+)*\.d\.c?ts|native\/index\.(cjs|d\.cts)|package\.json|README\.md|LICENSE)$/;
