/**
 * What becomes of an exception thrown by an application callback that an
 * adapter invoked (`onRead`, `onEof`, a flush callback). The adapter has
 * already closed the body and failed its stream side with it; this makes
 * sure the exception is never lost and never escapes: the process must not
 * end because a callback threw. Private.
 *
 * @module
 */

/**
 * Passes `error` to `onError`, or logs it with `console.error` naming
 * `caller` when there is none. An `onError` that throws is logged too.
 */
export function reportCallbackError(
  caller: string,
  onError: ((error: unknown) => void) | undefined,
  error: unknown,
): void {
  if (onError === undefined) {
    console.error(`${caller}: a callback threw:`, error);
    return;
  }
  try {
    onError(error);
  } catch (failure) {
    console.error(`${caller}: options.onError threw:`, failure);
  }
}
