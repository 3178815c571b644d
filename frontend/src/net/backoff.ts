// How long to wait before trying again: exponential, capped, and jittered so that a whole
// school's boards and laptops that lost a node at the same moment do not come back in step
// and knock the next node over.

export interface BackoffPolicy {
  /** The ceiling of the first wait. */
  initialMs: number;
  /** No wait is longer than this, however many attempts failed. */
  maxMs: number;
  /** How much of the ceiling is random: 1 is "full jitter" (0..ceiling), 0 none. */
  jitter: number;
}

/** The wait before retry number `attempt` (0 for the first retry). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return ceiling * (1 - policy.jitter * random());
}

/** A run of attempts: each `next()` waits up to twice as long as the one before. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number,
  ) {}

  /** The wait before the next attempt; counts that attempt. */
  next(): number {
    return backoffDelay(this.policy, this.attempt++, this.random);
  }

  /** After a success: the next failure waits as little as the first one. */
  reset(): void {
    this.attempt = 0;
  }
}
