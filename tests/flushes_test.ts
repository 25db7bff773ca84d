// Flush bookkeeping alone (`_body/flushes.ts`): the order and the rule by which
// flushes are answered, re-entrancy, and throwing callbacks.
import assert from "node:assert/strict";
import { FlushQueue, type Progress } from "../_body/flushes.ts";

const at = (delivered: number, taken = delivered): Progress => ({
  delivered,
  taken,
  ended: false,
  gone: false,
});

Deno.test("FlushQueue answers written, oldest first, each flush once its bytes are delivered", () => {
  const queue = new FlushQueue();
  const log: string[] = [];
  queue.push(3, (r) => log.push(`a:${r}`));
  queue.push(5, (r) => log.push(`b:${r}`));
  queue.push(5, (r) => log.push(`c:${r}`));
  queue.settle(at(2));
  assert.deepEqual(log, []);
  queue.settle(at(4));
  assert.deepEqual(log, ["a:written"]);
  queue.settle(at(5));
  queue.settle(at(9));
  assert.deepEqual(log, ["a:written", "b:written", "c:written"]);
  assert.equal(queue.empty, true);
});

Deno.test("FlushQueue answers closed once the channel is gone, and for bytes never taken once it ended", () => {
  const log: string[] = [];
  const gone = new FlushQueue();
  gone.push(1, (r) => log.push(`gone:${r}`));
  gone.settle({ delivered: 0, taken: 1, ended: false, gone: true });
  const ended = new FlushQueue();
  ended.push(4, (r) => log.push(`in flight:${r}`));
  ended.push(6, (r) => log.push(`never taken:${r}`));
  ended.settle({ delivered: 0, taken: 4, ended: true, gone: false });
  ended.settle({ delivered: 4, taken: 4, ended: true, gone: false });
  assert.deepEqual(log, [
    "gone:closed",
    "in flight:written",
    "never taken:closed",
  ]);
});

Deno.test("FlushQueue: a flush made inside a callback is answered in the same settle when it can be", () => {
  const queue = new FlushQueue();
  const log: string[] = [];
  queue.push(1, (r) => {
    log.push(`first:${r}`);
    queue.push(1, (r2) => log.push(`inner:${r2}`));
    queue.push(9, (r3) => log.push(`later:${r3}`));
  });
  queue.settle(at(1));
  assert.deepEqual(log, ["first:written", "inner:written"]);
  assert.equal(queue.empty, false);
});

Deno.test("FlushQueue: a throwing callback does not stop the others; its exception is returned", () => {
  const queue = new FlushQueue();
  const failure = new Error("callback failed");
  const log: string[] = [];
  queue.push(1, () => {
    throw failure;
  });
  queue.push(1, (r) => log.push(r));
  assert.deepEqual(queue.settle(at(1)), [failure]);
  assert.deepEqual(log, ["written"]);
  assert.equal(queue.settle(at(1)), null);
});
