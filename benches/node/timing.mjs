// Timing helpers of the Node benches: medians of repeated runs, printed rows.

import { performance } from "node:perf_hooks";

/** Runs `fn` `reps` times (after `setup` each time, untimed); returns the median in ms. */
export async function median(reps, fn, setup = () => undefined) {
  const times = [];
  for (let i = 0; i < reps; i++) {
    const state = await setup();
    const start = performance.now();
    await fn(state);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function ms(value) {
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(2)} ms`;
}

/** One row: what, the two medians and their ratio against a goal. */
export function row(what, ours, theirs, goal) {
  const ratio = theirs / ours;
  const verdict = goal === undefined ? "" : ratio >= goal ? `  (goal >= ${goal}x: met)` : `  (goal >= ${goal}x: MISSED)`;
  console.log(`${what.padEnd(44)} reelgraph ${ms(ours).padStart(10)}   baseline ${ms(theirs).padStart(10)}   ${ratio.toFixed(1)}x${verdict}`);
}
