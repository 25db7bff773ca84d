// Type-level tests: `deno check` (part of `deno task test`) fails if any
// `@ts-expect-error` below stops being an error. The runtime half checks
// that plain-JS callers get a TypeError for the same misuse.
import assert from "node:assert/strict";
import {
  type Body,
  bodyFromReadable,
  type FlushResult,
  streamingBody,
} from "../mod.ts";

function typeErrors(reader: Body<"read">, writer: Body<"write">): void {
  // @ts-expect-error scheduleRead is a read operation
  writer.scheduleRead({ onRead() {}, onEof() {} });
  // @ts-expect-error closeReader is a read operation
  writer.closeReader();
  // @ts-expect-error writeChar is a write operation
  reader.writeChar("a");
  // @ts-expect-error writeString is a write operation
  reader.writeString("a");
  // @ts-expect-error writeBigstring is a write operation
  reader.writeBigstring(new Uint8Array(1));
  // @ts-expect-error scheduleBigstring is a write operation
  reader.scheduleBigstring(new Uint8Array(1));
  // @ts-expect-error flush is a write operation
  reader.flush();
  // @ts-expect-error closeWriter is a write operation
  reader.closeWriter();
  // @ts-expect-error a reader body is not a writer body
  const _w: Body<"write"> = reader;
  // @ts-expect-error a writer body is not a reader body
  const _r: Body<"read"> = writer;
  // @ts-expect-error writeString takes a string
  writer.writeString(42);
  // @ts-expect-error writeBigstring takes a Uint8Array
  writer.writeBigstring("bytes");
  // @ts-expect-error onRead receives (buffer, off, len)
  reader.scheduleRead({ onRead: (_b: string) => {}, onEof() {} });
  // @ts-expect-error both callbacks are required
  reader.scheduleRead({ onRead() {} });

  // What is allowed on both sides.
  const closed: boolean = reader.isClosed() || writer.isClosed();
  const pending: number = reader.pendingBytes + writer.pendingBytes;
  const result: Promise<FlushResult> = writer.flush();
  const none: void = writer.flush((r: FlushResult) => void r);
  void [closed, pending, result, none];
}
void typeErrors;

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;
const flushWithoutCallbackReturnsAPromise: Equal<
  ReturnType<Body<"write">["flush"]>,
  Promise<FlushResult>
> = true;
const sideIsLiteral: Equal<Body<"read">["side"], "read"> = true;
void [flushWithoutCallbackReturnsAPromise, sideIsLiteral];

Deno.test("a write method called on a reader body throws TypeError at run time", () => {
  const reader = bodyFromReadable(new ReadableStream()) as unknown as Body<
    "write"
  >;
  for (
    const call of [
      () => reader.writeChar("a"),
      () => reader.writeString("a"),
      () => reader.writeBigstring(new Uint8Array(1)),
      () => reader.scheduleBigstring(new Uint8Array(1)),
      () => reader.flush(() => {}),
      () => reader.closeWriter(),
    ]
  ) {
    assert.throws(
      call,
      (e) => e instanceof TypeError && /^Body\.\w+: /.test(e.message),
    );
  }
  reader.side satisfies string;
});

Deno.test("a read method called on a writer body throws TypeError at run time", () => {
  const { body } = streamingBody();
  const writer = body as unknown as Body<"read">;
  assert.throws(
    () => writer.scheduleRead({ onRead() {}, onEof() {} }),
    { name: "TypeError", message: /^Body\.scheduleRead: / },
  );
  assert.throws(() => writer.closeReader(), {
    name: "TypeError",
    message: /^Body\.closeReader: /,
  });
});
