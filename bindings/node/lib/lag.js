// Event-loop lag, as a user of the package would see it: a setInterval
// timer every `intervalMs`, and how late each tick came. Used by
// examples/seed.mjs and bench/.
'use strict';

const { performance } = require('node:perf_hooks');

/** Starts measuring; `stop()` returns `{ ticks, p50, p99, max }` in ms. */
function lagMonitor(intervalMs = 2) {
  const lags = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - intervalMs));
    last = now;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const sorted = [...lags].sort((a, b) => a - b);
      const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0);
      return { ticks: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1] : 0 };
    },
  };
}

module.exports = { lagMonitor };
