/** A path, relative to the package root, that the root npm package may hold. */
export declare const PUBLISHED_FILE: RegExp;
