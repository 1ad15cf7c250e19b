import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, get } from './api';

export type Loaded<T> = { data: T | null; error: ApiError | null; loading: boolean; reload: () => void };

/**
 * GETs `path` (null = nothing to load) and again every `refreshMs` when given. A refresh keeps the
 * data on screen while it loads, so auto-refreshing pages do not flicker.
 */
export function useApi<T>(path: string | null, refreshMs?: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const current = useRef(path);
  current.current = path;

  useEffect(() => {
    if (path === null) {
      setData(null);
      setLoading(false);
      return;
    }
    let cancelled = false;
    setLoading(true);
    get<T>(path)
      .then((d) => {
        if (cancelled) return;
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e)));
      })
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [path, tick]);

  useEffect(() => {
    if (!refreshMs || path === null) return;
    const t = setInterval(() => setTick((n) => n + 1), refreshMs);
    return () => clearInterval(t);
  }, [refreshMs, path]);

  useEffect(() => setData(null), [path]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Cursor paging: the cursors of the pages before this one, so Previous works with forward-only cursors. */
export function useCursorPager(resetKey: string) {
  const [stack, setStack] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  useEffect(() => {
    setStack([]);
    setCursor(undefined);
  }, [resetKey]);
  return {
    cursor,
    page: stack.length + 1,
    next: (c: string) => {
      setStack((s) => [...s, cursor ?? '']);
      setCursor(c);
    },
    prev: () => {
      setStack((s) => {
        const copy = [...s];
        const last = copy.pop();
        setCursor(last ? last : undefined);
        return copy;
      });
    },
    hasPrev: stack.length > 0,
  };
}
