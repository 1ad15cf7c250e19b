/**
 * Runs at most `max` of the functions given to it at once; the rest wait their turn, first come
 * first served, as a closure each. For calls whose cost is held while they run (a scrypt run's
 * memory, a KMS request's SDK state and socket), where starting more at once only queues them
 * further in, at a higher price.
 */
export type ConcurrencyLimit = <T>(fn: () => Promise<T>) => Promise<T>;

export function createConcurrencyLimit(max: number): ConcurrencyLimit {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`A concurrency limit must be a whole number ≥ 1, not ${max}.`);
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    // A finishing call hands its slot straight to the next in line.
    if (running < max) running += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}
