// The build steps behind `wasmudf-guest build`, for other tools too (the
// Node.js package's `db.loadJavaScript` bundles a module here to name its
// cached component by content, then builds it in a child process):
// `bundle` an entry module with the SDK, `componentize` a bundle into a
// component, and the helpers that report on one.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const PKG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WIT_DIR = join(PKG_DIR, 'wit');
const SDK_MODULES = {
  'wasmudf-guest': join(PKG_DIR, 'src', 'index.js'),
  'wasmudf-guest/component': join(PKG_DIR, 'src', 'component.js'),
  'wasmudf-guest/core': join(PKG_DIR, 'src', 'core.js'),
};

// The engine features a UDF component does without: an outgoing HTTP client
// and the incoming-HTTP event model, whose WASI imports a wasmudf host does
// not provide. stdio (console.*), clocks (Date.now, performance.now,
// setTimeout) and random (Math.random, crypto.getRandomValues) stay.
const DISABLED_FEATURES = ['http', 'fetch-event'];

/** An esbuild plugin resolving `wasmudf-guest` to this package's SDK. */
const sdkPlugin = {
  name: 'wasmudf-guest',
  setup(build) {
    build.onResolve({ filter: /^wasmudf-guest(\/.*)?$/ }, (args) => {
      const path = SDK_MODULES[args.path];
      if (path === undefined) {
        return { errors: [{ text: `wasmudf-guest has no module ${JSON.stringify(args.path)} (import from 'wasmudf-guest')` }] };
      }
      return { path };
    });
  },
};

/**
 * Bundles the entry and the SDK into one ES module; returns its text and
 * its source map (parsed).
 */
export async function bundle(entry) {
  const esbuild = await import('esbuild');
  // The user's module first, so that its registrations are done when the
  // check and the `guest` export are evaluated.
  const contents =
    `import ${JSON.stringify(entry)};\n` +
    `import { defaultRegistry } from 'wasmudf-guest/core';\n` +
    `if (defaultRegistry.entries.length === 0) {\n` +
    `  throw new Error(${JSON.stringify(`${basename(entry)} registers no functions: call scalar, aggregate, window or table from 'wasmudf-guest' at its top level`)});\n` +
    `}\n` +
    `export { guest } from 'wasmudf-guest/component';\n`;
  let result;
  try {
    result = await esbuild.build({
      stdin: { contents, resolveDir: dirname(entry), sourcefile: 'wasmudf-guest-entry.js', loader: 'js' },
      bundle: true,
      write: false,
      outfile: 'bundle.js',
      sourcemap: 'external',
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      plugins: [sdkPlugin],
    });
  } catch (e) {
    const lines = (e.errors ?? []).map((m) =>
      m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text,
    );
    throw new Error(`bundling ${entry} failed:\n  ${lines.join('\n  ') || e.message}`);
  }
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles.find((f) => f.path.endsWith('.map'));
  return { code: js.text, map: map ? JSON.parse(map.text) : null };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * A function mapping a 1-based line and column of the bundle to
 * `file:line:column` of the source it came from, or null.
 */
function sourceMapper(map) {
  if (map === null) return () => null;
  const lines = [];
  let src = 0;
  let line = 0;
  let col = 0;
  for (const text of map.mappings.split(';')) {
    const segments = [];
    let genCol = 0;
    for (const seg of text.split(',')) {
      if (seg === '') continue;
      const fields = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = BASE64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += fields[0];
      if (fields.length >= 4) {
        src += fields[1];
        line += fields[2];
        col += fields[3];
        segments.push([genCol, src, line, col]);
      }
    }
    lines.push(segments);
  }
  return (genLine, genCol) => {
    const segments = lines[genLine - 1];
    if (!segments || segments.length === 0) return null;
    let best = segments[0];
    for (const seg of segments) {
      if (seg[0] <= genCol - 1) best = seg;
      else break;
    }
    const file = map.sources[best[1]];
    if (file === undefined) return null;
    return `${file}:${best[2] + 1}:${best[3] + 1}`;
  };
}

/** Rewrites `name.js:line:col` positions of the bundle in `text` to sources. */
export function mapPositions(text, name, map) {
  const lookup = sourceMapper(map);
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`${escaped}:(\\d+):(\\d+)`, 'g'), (all, l, c) => lookup(Number(l), Number(c)) ?? all);
}

/** The weval binary for --aot, or a clear error when it cannot be had. */
export async function findWeval(wevalBin) {
  if (wevalBin !== null) {
    if (!existsSync(wevalBin)) throw new Error(`--weval-bin ${wevalBin}: no such file`);
    return resolve(wevalBin);
  }
  let getWeval;
  try {
    ({ default: getWeval } = await import('@bytecodealliance/weval'));
  } catch (e) {
    throw new Error(`--aot: cannot load @bytecodealliance/weval (${e.message})`);
  }
  // getWeval downloads the binary from GitHub releases the first time and
  // calls process.exit(1) when the download answers with an error status:
  // turn both that and a network failure into an error.
  const exit = process.exit;
  const log = console.error;
  let printed = '';
  process.exit = (code) => {
    throw new Error(`exit ${code}`);
  };
  console.error = (...args) => {
    printed += args.join(' ') + '\n';
  };
  try {
    return await getWeval();
  } catch (e) {
    const cause = e.cause?.message ?? e.cause?.code ?? '';
    throw new Error(
      '--aot needs the weval binary, which @bytecodealliance/weval downloads from GitHub ' +
        'releases on first use, and that download failed' +
        (printed ? `:\n  ${printed.trim()}` : '') +
        `\n  (${e.message}${cause ? `: ${cause}` : ''})` +
        '\nBuild without --aot, or build weval from crates.io and pass it:' +
        '\n  cargo install weval --version 0.5.0 --locked --root ~/.local' +
        '\n  ... --aot --weval-bin ~/.local/bin/weval',
    );
  } finally {
    process.exit = exit;
    console.error = log;
  }
}

/**
 * The functions a bundle registers, found by evaluating it in Node with its
 * console silenced: null when that fails (code that only runs inside the
 * component's engine), which is no reason to fail the build.
 */
export async function listFunctions(dir, code) {
  const path = join(dir, 'manifest-probe.mjs');
  await writeFile(path, code);
  const saved = {};
  for (const k of ['log', 'info', 'warn', 'error', 'debug']) {
    saved[k] = console[k];
    console[k] = () => {};
  }
  try {
    const mod = await import(pathToFileURL(path).href);
    return mod.guest.manifest();
  } catch {
    return null;
  } finally {
    Object.assign(console, saved);
  }
}

/**
 * Drops what an author cannot act on from componentize-js's message: the
 * wizer command line and StarlingMonkey's repeat of the error as an
 * unhandled rejection (the failed top-level evaluation).
 */
export function tidyError(text) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^Failed to initialize component \((wizer|weval)/.test(line)) continue;
    if (line.startsWith('Exception while evaluating top-level script')) {
      out.push('an exception was thrown while the module was evaluated:');
      continue;
    }
    if (line.startsWith('Additionally, some promises were rejected')) {
      if (lines[i + 1]?.startsWith('Promise rejected but never handled:')) i++;
      continue;
    }
    out.push(line);
  }
  return out.join('\n').trim();
}

export function formatSize(bytes) {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}


/**
 * Builds a component from a bundle made by `bundle`: its bytes, and the
 * functions the bundle registers (null when they cannot be listed in
 * Node). `entryName` names the module in error stacks (positions in it are
 * mapped back to the sources through `map`); `wevalBin` (from `findWeval`)
 * asks for weval ahead-of-time compilation.
 */
export async function componentize({ code, map, entryName, wevalBin }) {
  const work = await mkdtemp(join(tmpdir(), 'wasmudf-guest-'));
  try {
    // Named after the entry so that error stacks name it (and positions in
    // it can be mapped back to the sources).
    const name = basename(entryName, extname(entryName)) + '.js';
    const sourcePath = join(work, name);
    await writeFile(sourcePath, code);
    const { componentize: run } = await import('@bytecodealliance/componentize-js');
    let component;
    try {
      ({ component } = await run({
        sourcePath,
        witPath: WIT_DIR,
        worldName: 'udf',
        disableFeatures: DISABLED_FEATURES,
        enableAot: wevalBin !== undefined,
        ...(wevalBin ? { wevalBin } : {}),
      }));
    } catch (e) {
      throw new Error(`building ${entryName} failed:\n${tidyError(mapPositions(String(e.message ?? e), name, map))}`);
    }
    const functions = await listFunctions(work, code);
    return { component, functions };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
