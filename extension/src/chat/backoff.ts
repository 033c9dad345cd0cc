/** Exponential backoff with a cap and full jitter: attempt 1 → up to base, 2 → up to 2·base, … */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Retries `operation` with exponential backoff while `retryable(error)` holds, at most `attempts` times. */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: {
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly retryable: (error: unknown) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
}): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= options.attempts || !options.retryable(error)) {
        throw error;
      }
      const delay = backoffDelay(attempt, options.baseMs, options.maxMs);
      options.onRetry?.(attempt, delay, error);
      await sleep(delay);
    }
  }
}
