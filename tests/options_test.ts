/**
 * Options and `init` are checked like arguments (README.md, "Errors and
 * failures"): a misspelt option key is a `TypeError` naming it and the
 * accepted keys, on every function that takes options; a bad `ResponseInit`
 * is the library's `TypeError`/`RangeError`, not Deno's constructor error.
 */
import assert from "node:assert/strict";
import { failsWith } from "./_harness/util.ts";
import {
  bodyFromReadable,
  bodyFromWritable,
  compressBody,
  type Reqd,
  streamingBody,
  toBytes,
  withBody,
} from "../mod.ts";
import { createReader, createWriter } from "../body.ts";

const channel = { wake() {}, abort() {}, callbackError() {} };
const readChannel = { request() {}, release() {}, callbackError() {} };

const cases: [string, (options: never) => unknown, string][] = [
  [
    "createReader",
    (o) => createReader(readChannel, o),
    "bufferSize, onError",
  ],
  [
    "createWriter",
    (o) => createWriter(channel, o),
    "bufferSize, onError, contentLength, maxPendingBytes",
  ],
  [
    "bodyFromReadable",
    (o) => bodyFromReadable(new ReadableStream(), o),
    "bufferSize, onError, maxBytes",
  ],
  [
    "streamingBody",
    (o) => streamingBody(o),
    "bufferSize, onError, contentLength, maxPendingBytes",
  ],
  [
    "bodyFromWritable",
    (o) => bodyFromWritable(new WritableStream(), o),
    "bufferSize, onError, contentLength, maxPendingBytes",
  ],
  [
    "compressBody",
    (o) => compressBody(streamingBody().body, "gzip", o),
    "level, bufferSize, onError, maxPendingBytes",
  ],
  [
    "withBody",
    (o) => withBody(() => {}, o),
    "bufferSize, maxBodyBytes, onError, signal, readTimeout, writeTimeout, maxPendingBytes, onDisconnect",
  ],
  [
    "toBytes",
    (o) => toBytes(bodyFromReadable(new ReadableStream()), o),
    "maxBytes",
  ],
];

for (const [name, call, accepted] of cases) {
  Deno.test(`${name} refuses a misspelt option, naming it and the accepted ones`, () => {
    assert.throws(
      () => call({ buferSize: 100 } as never),
      failsWith(
        TypeError,
        `${name}: unknown option "buferSize" (accepted: ${accepted})`,
      ),
    );
  });
}

for (const [name, call] of cases) {
  Deno.test(`${name} refuses null options as not an object`, () => {
    assert.throws(
      () => call(null as never),
      failsWith(TypeError, `${name}: options must be an object, received null`),
    );
  });
}

Deno.test("withBody refuses readTimout, the issue's own misspelling", () => {
  assert.throws(
    () => withBody(() => {}, { readTimout: 5 } as never),
    failsWith(TypeError, 'withBody: unknown option "readTimout"'),
  );
});

/**
 * A Reqd from withBody, for one request, and its response. A failed
 * assertion inside `use` is rethrown here: withBody itself would turn it
 * into a 500.
 */
async function withReqd(
  use: (reqd: Reqd) => void,
  request = new Request("http://localhost/"),
): Promise<Response> {
  let failure: unknown = undefined;
  const response = await withBody((reqd) => {
    try {
      use(reqd);
    } catch (error) {
      failure = error;
      throw error;
    }
  }, { onError: () => new Response(null, { status: 500 }) })(request);
  if (failure !== undefined) throw failure;
  return response;
}

Deno.test("respondWithStreaming refuses a misspelt option", async () => {
  await withReqd((reqd) => {
    assert.throws(
      () => reqd.respondWithStreaming({}, { compres: true } as never),
      failsWith(
        TypeError,
        'Reqd.respondWithStreaming: unknown option "compres" (accepted: compress, level)',
      ),
    );
    reqd.respondWithString({}, "");
  });
});

Deno.test("respondWithStreaming checks a level against every encoding offered, whatever the client accepts", async () => {
  for (const accept of ["br", "identity", ""]) {
    const request = new Request("http://localhost/", {
      headers: { "accept-encoding": accept },
    });
    await withReqd((reqd) => {
      assert.throws(
        () =>
          reqd.respondWithStreaming({}, {
            compress: ["br", "gzip"],
            level: 10,
          }),
        failsWith(
          RangeError,
          "Reqd.respondWithStreaming: options.level for gzip must be an integer from 0 to 9, received 10",
        ),
      );
      assert.throws(
        () =>
          reqd.respondWithStreaming({}, {
            compress: true,
            level: "9" as never,
          }),
        failsWith(
          TypeError,
          "Reqd.respondWithStreaming: options.level must be a number, received a string of length 1",
        ),
      );
      // A level every offered encoding takes.
      reqd.respondWithStreaming({}, { compress: ["br"], level: 11 })
        .closeWriter();
    }, request);
  }
});

Deno.test("respondWithStreaming refuses a level without compress", async () => {
  await withReqd((reqd) => {
    assert.throws(
      () => reqd.respondWithStreaming({ status: 204 }, { level: 1 }),
      failsWith(
        TypeError,
        "Reqd.respondWithStreaming: options.level needs options.compress (nothing is compressed without it)",
      ),
    );
    reqd.respondWithString({}, "");
  });
});

Deno.test("setTimeouts refuses a misspelt timeout", async () => {
  await withReqd((reqd) => {
    assert.throws(
      () => reqd.setTimeouts({ readTimout: 5 } as never),
      failsWith(
        TypeError,
        'Reqd.setTimeouts: unknown option "readTimout" (accepted: readTimeout, writeTimeout)',
      ),
    );
    reqd.respondWithString({}, "");
  });
});

Deno.test("a status outside 200-599 is a RangeError in the library's words", async () => {
  await withReqd((reqd) => {
    assert.throws(
      () => reqd.respondWithString({ status: 999 }, "x"),
      failsWith(
        RangeError,
        "Reqd.respondWithString: init.status must be an integer from 200 to 599, received 999",
      ),
    );
    assert.throws(
      () => reqd.respondWithStreaming({ status: 101 }),
      failsWith(
        RangeError,
        "Reqd.respondWithStreaming: init.status must be an integer from 200 to 599, received 101",
      ),
    );
    assert.throws(
      () => reqd.respondWithBigstring({ status: 200.5 }, new Uint8Array()),
      failsWith(RangeError, "Reqd.respondWithBigstring: init.status"),
    );
    reqd.respondWithString({}, "");
  });
});

Deno.test("a non-object init is a TypeError in the library's words", async () => {
  await withReqd((reqd) => {
    assert.throws(
      () => reqd.respondWithString(200 as never, "x"),
      failsWith(
        TypeError,
        "Reqd.respondWithString: init must be an object, received number 200",
      ),
    );
    reqd.respondWithString({}, "");
  });
});

Deno.test("a misspelt init key is refused", async () => {
  await withReqd((reqd) => {
    assert.throws(
      () => reqd.respondWithString({ stauts: 404 } as never, "x"),
      failsWith(
        TypeError,
        'Reqd.respondWithString: unknown init key "stauts" (accepted: status, statusText, headers)',
      ),
    );
    reqd.respondWithString({}, "");
  });
});

Deno.test("a status of the wrong type and a bad header are TypeErrors naming the call", async () => {
  await withReqd((reqd) => {
    assert.throws(
      () => reqd.respondWithString({ status: "404" } as never, "x"),
      failsWith(
        TypeError,
        "Reqd.respondWithString: init.status must be a number, received a string of length 3",
      ),
    );
    assert.throws(
      () => reqd.respondWithString({ headers: { "bad name": "x" } }, "x"),
      failsWith(TypeError, "Reqd.respondWithString: init: "),
    );
    assert.throws(
      () => reqd.respondWithStreaming({ headers: { "bad name": "x" } }),
      failsWith(TypeError, "Reqd.respondWithStreaming: init.headers: "),
    );
    assert.throws(
      () => reqd.respondWithString({ statusText: 5 } as never, "x"),
      failsWith(
        TypeError,
        "Reqd.respondWithString: init.statusText must be a string, received number 5",
      ),
    );
    reqd.respondWithString({}, "");
  });
});

Deno.test("a refused init leaves the response unstarted", async () => {
  const response = await withReqd((reqd) => {
    assert.throws(() => reqd.respondWithString({ status: 999 }, "x"));
    reqd.respondWithString({ status: 201 }, "second try");
  });
  assert.equal(response.status, 201);
  assert.equal(await response.text(), "second try");
});
