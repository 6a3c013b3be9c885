// Data loading for pages: a resource that loads, reloads and (optionally) polls while it matters,
// and an action that reports progress and a readable error.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Loads `load()` now and whenever `deps` change. `pollMs` (a number, or a function of the data)
 * reloads on a timer — e.g. fast while a deployment is changing, slow or never once it is steady.
 * Polling pauses while the tab is hidden.
 */
export function useResource<T>(load: () => Promise<T>, deps: unknown[], options: { pollMs?: number | ((data: T | undefined) => number | null) } = {}): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const pollRef = useRef(options.pollMs);
  pollRef.current = options.pollMs;
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await loadRef.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(null);
    } catch (err) {
      if (mine === generation.current) setError(err as Error);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setData(undefined);
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const dataRef = useRef(data);
  dataRef.current = data;
  const polls = options.pollMs !== undefined;
  useEffect(() => {
    if (!polls) return;
    let stopped = false;
    let timer: number | undefined;
    const interval = () => {
      const p = pollRef.current;
      return (typeof p === 'function' ? p(dataRef.current) : p) ?? null;
    };
    // When polling is off for now (a steady state), look again each second whether it still is.
    const schedule = () => {
      timer = window.setTimeout(() => void tick(), interval() ?? 1000);
    };
    const tick = async () => {
      if (stopped) return;
      if (interval() && document.visibilityState === 'visible') await reload();
      if (!stopped) schedule();
    };
    schedule();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [polls, reload]);

  return { data, error, loading, reload };
}

export interface Action<A extends unknown[], R> {
  run: (...args: A) => Promise<R | undefined>;
  busy: boolean;
  error: Error | null;
  reset: () => void;
}

/**
 * Wraps a mutation: `busy` while it runs, `error` when it fails. `run` resolves to the result,
 * or undefined when it failed (so a mutation that succeeds should return something, e.g. true).
 */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>): Action<A, R> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const run = useCallback(async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      return await fnRef.current(...args);
    } catch (err) {
      setError(err as Error);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { run, busy, error, reset: () => setError(null) };
}

/** The current time, ticking every `ms` (for ages such as "heartbeat 4 s ago"). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

/** `value`, once it has stopped changing for `ms` (filters typed into a box query the gateway once). */
export function useDebounced<T>(value: T, ms = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return settled;
}
