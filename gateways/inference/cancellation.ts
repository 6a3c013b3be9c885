// A request's cancellation: set when its client goes away. An AbortController is an EventTarget,
// and making one and listening on it cost the hot path about 3 µs a request; a request mostly
// needs "is it aborted?" and one listener (its upstream call). This answers those, and makes the
// real AbortSignal only when something asks for one (a guard-model call, prompt processing, an
// endpoint adapter, fetch), already aborted if the request is.

/** What the upstream call reads of a signal: AbortSignal has it, and so does Cancellation. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Cancellation implements AbortSignalLike {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] = [];
  private controller: AbortController | undefined;

  /** Aborts: listeners run once, in the order they were added; a signal handed out aborts too. */
  abort(reason: unknown = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' })): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
    this.controller?.abort(reason);
  }

  /** A real AbortSignal that follows this one. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Listeners run once (as with `{ once: true }`), and not at all if added after the abort. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }
}

/** The AbortSignal behind a signal-like (a Cancellation's own, made on demand). */
export const asAbortSignal = (signal: AbortSignalLike): AbortSignal => (signal instanceof Cancellation ? signal.signal : (signal as AbortSignal));
