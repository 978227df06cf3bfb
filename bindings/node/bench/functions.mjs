// The benchmarked functions' bodies, over BigInts (as the guest SDK hands
// INTEGERs over, and as better-sqlite3 does with safeIntegers).
export function add1(x) {
  return x + 1n;
}

export function collatz(n) {
  let x = n < 1n ? 1n : n;
  let steps = 0n;
  while (x > 1n) {
    x = x % 2n === 0n ? x / 2n : 3n * x + 1n;
    steps++;
  }
  return steps;
}
