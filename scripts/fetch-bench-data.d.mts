/** Types of scripts/fetch-bench-data.mjs, for bench/diff.ts. */
export declare const CACHE: string;
export declare const PAIRS: readonly { label: string; pkg: string; versions: [string, string] }[];
