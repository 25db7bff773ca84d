/**
 * README.md, "Everyday patterns": a download to a file with `request()`,
 * and the plain `fetch` version with the same guarantees: a stalled or
 * oversized download fails, and none leaves a file behind. Both answer
 * the new file's path. `tests/patterns_test.ts` holds both to the README's
 * text and ours to its guarantees.
 *
 * @module
 */

// #region ours
import { readableFromBody, request } from "@httpaf/body";

export const download = (url: string, dir: string) =>
  new Promise<string>((resolve, reject) => {
    request(url, {
      readTimeout: 30_000, // a stalled download fails, a slow one goes on
      maxResponseBytes: 1 << 30,
      async onResponse(response, body) {
        const path = `${dir}/${crypto.randomUUID()}`;
        try {
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          await Deno.writeFile(path, readableFromBody(body));
          resolve(path);
        } catch (error) { // truncated, stalled, too large: no file left
          body.closeReader();
          await Deno.remove(path).catch(() => {});
          reject(error);
        }
      },
      onError: reject,
    });
  });
// #endregion ours

// #region plain
export const plainDownload = async (url: string, dir: string) => {
  const path = `${dir}/${crypto.randomUUID()}`;
  const response = await fetch(url);
  const reader = response.body!.getReader();
  let size = 0;
  const checked = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer!: ReturnType<typeof setTimeout>;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("stalled")), 30_000);
      });
      const read = await Promise.race([reader.read(), stalled]);
      clearTimeout(timer);
      if (read.done) return controller.close();
      if ((size += read.value.length) > 1 << 30) throw new RangeError("large");
      controller.enqueue(read.value);
    },
  });
  try {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await Deno.writeFile(path, checked);
    return path;
  } catch (error) {
    await reader.cancel(error);
    await Deno.remove(path).catch(() => {});
    throw error;
  }
};
// #endregion plain
