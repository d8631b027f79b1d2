import { createHash } from 'node:crypto';

/** Hashes computed here, not by the code under test. */
export const sha256Hex = (b: string | Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const digestOf = (b: string | Uint8Array): `sha256:${string}` => `sha256:${sha256Hex(b)}`;
