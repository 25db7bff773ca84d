// The coalescing buffer alone (`_body/faraday.ts`): no channel, no callbacks.
// Whole results are compared with a reference: the bytes of every write
// in order, as TextEncoder and plain copies would make them.
import assert from "node:assert/strict";
import fc from "./_harness/fc.ts";
import { concat } from "./_harness/util.ts";
import { Faraday } from "../_body/faraday.ts";

// A failing property shrinks for at most 20 s, then reports what it
// has: a run that never answers is a failure, not a hang.
fc.configureGlobal({ interruptAfterTimeLimit: 20_000 });

const enc = new TextEncoder();

type Op =
  | { kind: "text"; text: string }
  | { kind: "char"; text: string }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "schedule"; bytes: Uint8Array }
  | { kind: "shift" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("text" as const),
    text: fc.string({ unit: "binary", maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant("char" as const),
    text: fc.constantFrom("a", "\u00e9", "\u20ac", "\u{1f600}"),
  }),
  fc.record({
    kind: fc.constant("bytes" as const),
    bytes: fc.uint8Array({ maxLength: 700 }),
  }),
  fc.record({
    kind: fc.constant("schedule" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
  }),
  fc.record({ kind: fc.constant("shift" as const) }),
);

// Runs `ops` against a Faraday of `size`; returns every chunk shifted (and
// what each looked like when it was shifted), what the reference expects,
// and the zero-copy chunks given.
function run(size: number, ops: Op[]) {
  const faraday = new Faraday(size);
  const out: Uint8Array[] = [];
  const snapshots: Uint8Array[] = [];
  const expected: Uint8Array[] = [];
  const scheduled = new Set<Uint8Array>();
  const take = () => {
    for (let chunk = faraday.shift(); chunk !== null; chunk = faraday.shift()) {
      out.push(chunk);
      snapshots.push(chunk.slice());
    }
  };
  for (const o of ops) {
    if (o.kind === "text") {
      if (o.text === "") continue;
      faraday.writeText(o.text);
      expected.push(enc.encode(o.text));
    } else if (o.kind === "char") {
      faraday.writeCodePoint(o.text.codePointAt(0)!);
      expected.push(enc.encode(o.text));
    } else if (o.kind === "bytes") {
      faraday.writeBytes(o.bytes, 0, o.bytes.length);
      expected.push(o.bytes.slice());
    } else if (o.kind === "schedule") {
      faraday.schedule(o.bytes);
      scheduled.add(o.bytes);
      expected.push(o.bytes);
    } else {
      take();
    }
  }
  take();
  return { faraday, out, snapshots, expected: concat(expected), scheduled };
}

Deno.test("Faraday: the chunks shifted are every write in order, each call's text encoded on its own", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 64, max: 4096 }),
      fc.array(op, { maxLength: 60 }),
      (size, ops) => {
        const { out, expected } = run(size, ops);
        assert.deepEqual(concat(out), expected);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("Faraday: a shifted chunk is never written again", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const { out, snapshots } = run(256, ops);
      out.forEach((chunk, i) =>
        assert.deepEqual(chunk, snapshots[i], `chunk ${i} changed`)
      );
    }),
    { numRuns: 300 },
  );
});

Deno.test("Faraday: copied chunks are at most the buffer size; scheduled chunks come out as the very same memory", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 64, max: 1024 }),
      fc.array(op, { maxLength: 60 }),
      (size, ops) => {
        const { out, scheduled } = run(size, ops);
        for (const chunk of out) {
          if (scheduled.has(chunk)) continue;
          assert.ok(
            chunk.length <= size,
            `a ${chunk.length}-byte chunk from a ${size}-byte buffer`,
          );
        }
        const seen = out.filter((chunk) => scheduled.has(chunk));
        assert.equal(seen.length, scheduled.size);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("Faraday: pending is exact and bounds() brackets it without encoding", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const faraday = new Faraday(512);
      let expected = 0;
      for (const o of ops) {
        if (o.kind === "text") {
          faraday.writeText(o.text);
          expected += enc.encode(o.text).length;
        } else if (o.kind === "bytes") {
          faraday.writeBytes(o.bytes, 0, o.bytes.length);
          expected += o.bytes.length;
        } else if (o.kind === "schedule") {
          faraday.schedule(o.bytes);
          expected += o.bytes.length;
        } else if (o.kind === "shift") {
          expected -= faraday.shift()?.length ?? 0;
        } else {
          continue;
        }
        const [low, high] = faraday.bounds();
        assert.ok(
          low <= expected && expected <= high,
          `${low} <= ${expected} <= ${high}`,
        );
        assert.equal(faraday.pending, expected);
        assert.equal(faraday.empty, expected === 0);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("Faraday: surrogate halves written by two calls stay two U+FFFD", () => {
  const faraday = new Faraday(64);
  faraday.writeText("a\ud83d");
  faraday.writeText("\ude00b");
  assert.deepEqual(faraday.shift(), enc.encode("a\ufffd\ufffdb"));
});

Deno.test("Faraday: once everything was shifted it holds no buffer between bursts", () => {
  const faraday = new Faraday(65536);
  faraday.writeText("x".repeat(100));
  const chunk = faraday.shift()!;
  assert.equal(chunk.length, 100);
  // A buffer kept between bursts would be the rest of chunk's ArrayBuffer;
  // the next write must land in new memory sized to it.
  faraday.writeText("y".repeat(10));
  const next = faraday.shift()!;
  assert.notEqual(next.buffer, chunk.buffer);
  assert.ok(
    next.buffer.byteLength <= 256,
    `${next.buffer.byteLength}-byte buffer`,
  );
});
