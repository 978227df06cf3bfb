// Shared by the package's tests: the guests the repository builds, and the
// package itself.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

import wasmudf from '../index.js';

export const { Database } = wasmudf;

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RELEASE = join(ROOT, 'guests', 'target', 'wasm32-wasip2', 'release');

/** The component the guests workspace builds for crate `name`. */
export function guest(name) {
  const path = join(RELEASE, `${name.replaceAll('-', '_')}.wasm`);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: build the guests first (cargo build --manifest-path guests/Cargo.toml ` +
        '--release --target wasm32-wasip2, which `cargo test` runs)',
    );
  }
  return path;
}

/** The JavaScript UDF module of the examples. */
export const EXAMPLE_UDF = fileURLToPath(new URL('../examples/udf.js', import.meta.url));

/** `fn` must reject with an error whose `code` is `code`; returns the error. */
export async function rejectsWith(promise, code) {
  try {
    await promise;
  } catch (err) {
    if (err?.code !== code) {
      throw new Error(`expected code ${code}, got ${err?.code}: ${err?.message}`, { cause: err });
    }
    return err;
  }
  throw new Error(`expected a rejection with code ${code}, but it resolved`);
}

/** This process's thread count and resident memory (Linux). */
export async function processStatus() {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile('/proc/self/status', 'utf8');
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1]);
  return { threads: field('Threads'), rssKib: field('VmRSS') };
}
