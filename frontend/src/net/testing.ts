// Test doubles for the net layer: a scripted random source here, fake transports beside it.
// Only tests import this file.

/** A random source that returns `values` in turn, then repeats the last one. */
export function randomSequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
}
