// JavaScript UDFs for examples/seed.mjs, written with the guest SDK
// (guests/js). `db.loadJavaScript('./udf.js')` builds this module into a
// WebAssembly component, so these functions run inside the component,
// on whichever pool thread steps the statement: never on Node's main thread.
import { scalar, aggregate } from 'wasmudf-guest';

// The seed's function: waits `ms` milliseconds on a timer inside the
// guest, then returns `ms`. INTEGER arguments arrive as BigInts.
scalar(
  'sleep',
  async (ms) => {
    if (ms === null) return null;
    await new Promise((resolve) => setTimeout(resolve, Number(ms)));
    return ms;
  },
  { params: ['integer'], returns: 'integer' },
);

// A CPU-bound function: the number of steps of the Collatz sequence from n.
// What it throws becomes the SQL error (`ERR_WASMUDF_GUEST` in Node).
scalar(
  'collatz',
  (n) => {
    if (n === null) return null;
    if (n < 1n) throw new RangeError(`collatz needs n >= 1, got ${n}`);
    let x = n;
    let steps = 0n;
    while (x > 1n) {
      x = x % 2n === 0n ? x / 2n : 3n * x + 1n;
      steps++;
    }
    return steps;
  },
  { params: ['integer'], returns: 'integer', deterministic: true },
);

// The median of a group.
aggregate(
  'js_median',
  {
    init: () => [],
    step(values, x) {
      if (x !== null) values.push(Number(x));
    },
    final(values) {
      if (values.length === 0) return null;
      values.sort((a, b) => a - b);
      const mid = values.length >> 1;
      return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    },
  },
  { deterministic: true },
);
