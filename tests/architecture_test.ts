/**
 * The layout rules of ARCHITECTURE.md ("The rules the architecture test
 * checks"), checked over the import graph that `deno info --json` reports
 * for every TypeScript file of the project, type-only imports included.
 * The checker is a pure function of that graph; the synthetic graphs at
 * the end show each rule failing when an import breaks it.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const ROOT_PATH = decodeURIComponent(ROOT.pathname);

/**
 * Which capabilities each capability is built on: the private folders,
 * besides its own, that its files may import. Must stay acyclic.
 */
export const BUILT_ON: Readonly<Record<string, readonly string[]>> = {
  readable: [],
  writable: [],
  compress: [],
  serve: ["readable", "writable", "compress"],
  client: ["readable", "writable", "serve"],
  proxy: ["serve", "client"],
  multipart: [],
};

/** One project file and the project files it imports (paths from the root). */
export type Graph = ReadonlyMap<string, readonly string[]>;

type Role =
  | { kind: "mod" }
  | { kind: "body" }
  | { kind: "core" } // _body/
  | { kind: "adapters-mod" }
  | { kind: "public"; capability: string } // adapters/<capability>.ts
  | { kind: "private"; capability: string } // adapters/_<capability>/
  | { kind: "examples" }
  | { kind: "bench" }
  | { kind: "tests"; test: boolean }
  | { kind: "other" };

function roleOf(path: string): Role {
  if (path === "mod.ts") return { kind: "mod" };
  if (path === "body.ts") return { kind: "body" };
  if (path.startsWith("_body/")) return { kind: "core" };
  if (path === "adapters/mod.ts") return { kind: "adapters-mod" };
  let m = /^adapters\/([a-z0-9]+)\.ts$/.exec(path);
  if (m) return { kind: "public", capability: m[1]! };
  m = /^adapters\/_([a-z0-9]+)\//.exec(path);
  if (m) return { kind: "private", capability: m[1]! };
  if (path.startsWith("examples/")) return { kind: "examples" };
  if (path.startsWith("bench/")) return { kind: "bench" };
  if (path.startsWith("tests/")) {
    return { kind: "tests", test: path.endsWith("_test.ts") };
  }
  return { kind: "other" };
}

const isLibrary = (path: string): boolean => {
  const kind = roleOf(path).kind;
  return kind === "mod" || kind === "body" || kind === "core" ||
    kind === "adapters-mod" || kind === "public" || kind === "private";
};

/** The public entry points: what a user may import. */
const isPublic = (path: string): boolean => {
  const kind = roleOf(path).kind;
  return kind === "mod" || kind === "body" || kind === "adapters-mod" ||
    kind === "public";
};

/** Why `from` may not import `to`, or null when it may. */
function forbidden(from: string, to: string): string | null {
  const a = roleOf(from);
  const b = roleOf(to);
  if (isLibrary(from) && !isLibrary(to)) {
    return "the library imports only library modules";
  }
  switch (a.kind) {
    case "mod":
      return isPublic(to) && b.kind !== "mod"
        ? null
        : "mod.ts re-exports public files only";
    case "body":
      return b.kind === "core" ? null : "body.ts imports only _body/";
    case "core":
      return b.kind === "core"
        ? null
        : "_body/ imports only _body/ (never body.ts, never adapters/)";
    case "adapters-mod":
      return b.kind === "public"
        ? null
        : "adapters/mod.ts re-exports capability files only";
    case "public":
    case "private": {
      if (b.kind === "body") return null;
      if (to === "_body/check.ts") return null;
      if (b.kind === "core") {
        return "adapters reach the core through body.ts (and _body/check.ts)";
      }
      if (b.kind === "public") {
        if (a.kind === "private" && b.capability === a.capability) {
          return "a private folder never imports its own public file";
        }
        return b.capability === a.capability && a.kind === "public"
          ? "a file does not import itself"
          : null;
      }
      if (b.kind === "private") {
        if (b.capability === a.capability) return null;
        return (BUILT_ON[a.capability] ?? []).includes(b.capability)
          ? null
          : `adapters/_${b.capability}/ is private to ${b.capability} and the capabilities built on it`;
      }
      return "adapters never import mod.ts or adapters/mod.ts";
    }
    case "examples":
      return isPublic(to) || b.kind === "examples"
        ? null
        : "examples import the public entry points only";
    case "bench":
      return isPublic(to) || b.kind === "bench"
        ? null
        : "benchmarks import the public entry points only";
    case "tests":
      if (isPublic(to) || b.kind === "tests") return null;
      if (b.kind === "examples") return null; // the examples are tested
      if (a.test) return null; // a test of a private module (one, below)
      return "test harnesses import the public entry points only";
    default:
      return null;
  }
}

/** The rules broken by `graph`, one line each (empty: none). */
export function violations(graph: Graph): string[] {
  const found: string[] = [];
  for (const path of graph.keys()) {
    const role = roleOf(path);
    if (!path.includes("/") && path !== "mod.ts" && path !== "body.ts") {
      found.push(`${path}: the top level holds mod.ts and body.ts only`);
    }
    if (role.kind === "public" && !(role.capability in BUILT_ON)) {
      found.push(`${path}: a capability missing from BUILT_ON`);
    }
    if (role.kind === "private" && !(role.capability in BUILT_ON)) {
      found.push(`${path}: a private folder of no capability`);
    }
  }
  for (const [from, imports] of graph) {
    for (const to of imports) {
      const why = forbidden(from, to);
      if (why !== null) found.push(`${from} → ${to}: ${why}`);
    }
    const role = roleOf(from);
    if (role.kind === "tests" && role.test) {
      const privates = imports.filter((to) => isLibrary(to) && !isPublic(to));
      if (privates.length > 1) {
        found.push(
          `${from}: a test imports at most one private module (${
            privates.join(", ")
          })`,
        );
      }
    }
  }
  for (const cycle of cycles(graph)) {
    found.push(`import cycle: ${cycle.join(" → ")}`);
  }
  for (const cycle of cycles(builtOnGraph())) {
    found.push(`BUILT_ON cycle: ${cycle.join(" → ")}`);
  }
  return found;
}

function builtOnGraph(): Graph {
  return new Map(Object.entries(BUILT_ON));
}

/** Every cycle of `graph` (one per strongly connected component). */
export function cycles(graph: Graph): string[][] {
  // Tarjan's algorithm, iterative enough for a project's few hundred files.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) found.push(component.reverse());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

// ---------------------------------------------------------------------
// The project's graph, from `deno info --json`.
// ---------------------------------------------------------------------

async function projectFiles(dir = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir || ".", ROOT))) {
    const path = dir + entry.name;
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) files.push(...await projectFiles(path + "/"));
    else if (/\.(ts|mts|mjs)$/.test(entry.name)) files.push(path);
  }
  return files;
}

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier: string };
    type?: { specifier: string };
  }[];
}

/** The import graph of `files` (project paths), type-only edges included. */
async function importGraph(files: string[]): Promise<Map<string, string[]>> {
  // One `deno info` over a root that imports every file: one process.
  const dir = await Deno.makeTempDir();
  try {
    const root = `${dir}/all.ts`;
    await Deno.writeTextFile(
      root,
      files.map((f) => `import "${new URL(f, ROOT).href}";\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      // The project's deno.json maps "@httpaf/body…" to its files.
      args: ["info", "--json", `--config=${ROOT_PATH}deno.json`, root],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.ok(output.success, `deno info failed:\n${stderr}`);
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      modules: InfoModule[];
    };
    const local = (specifier: string): string | null => {
      if (!specifier.startsWith(ROOT.href)) return null;
      return decodeURIComponent(new URL(specifier).pathname).slice(
        ROOT_PATH.length,
      );
    };
    const graph = new Map<string, string[]>();
    for (const module of info.modules) {
      const from = local(module.specifier);
      if (from === null) continue;
      const to = new Set<string>();
      for (const dep of module.dependencies ?? []) {
        for (const edge of [dep.code, dep.type]) {
          const target = edge && local(edge.specifier);
          if (target) to.add(target);
        }
      }
      graph.set(from, [...to]);
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

let cached: Promise<Map<string, string[]>> | null = null;

/** The project's import graph (computed once for the tests below). */
function projectGraph(): Promise<Map<string, string[]>> {
  return cached ??= (async () => {
    const files = await projectFiles();
    const graph = await importGraph(files);
    for (const file of files) if (!graph.has(file)) graph.set(file, []);
    return graph;
  })();
}

// ---------------------------------------------------------------------
// The project keeps the rules.
// ---------------------------------------------------------------------

Deno.test("the project's imports keep every rule of ARCHITECTURE.md", async () => {
  const graph = await projectGraph();
  assert.ok(graph.size > 50, `only ${graph.size} files found`);
  assert.deepEqual(violations(graph), []);
});

Deno.test("the top level holds mod.ts and body.ts as its only TypeScript files", async () => {
  const top: string[] = [];
  for await (const entry of Deno.readDir(ROOT)) {
    if (entry.isFile && /\.(ts|mts|js|mjs)$/.test(entry.name)) {
      top.push(entry.name);
    }
  }
  assert.deepEqual(top.sort(), ["body.ts", "mod.ts"]);
});

Deno.test("every library module is reached from a public entry point", async () => {
  const graph = await projectGraph();
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ) as { exports: Record<string, string> };
  const reached = new Set<string>();
  const walk = (path: string): void => {
    if (reached.has(path)) return;
    reached.add(path);
    for (const next of graph.get(path) ?? []) walk(next);
  };
  for (const entry of Object.values(config.exports)) {
    walk(entry.replace(/^\.\//, ""));
  }
  const orphans = [...graph.keys()].filter((p) =>
    isLibrary(p) && !reached.has(p)
  );
  assert.deepEqual(orphans, []);
});

Deno.test("the graph includes type-only imports", async () => {
  const graph = await projectGraph();
  // _body/reader.ts imports ReadChannel as a type only.
  assert.ok(graph.get("_body/reader.ts")?.includes("_body/channel.ts"));
});

// ---------------------------------------------------------------------
// Each rule fails when an import breaks it (synthetic graphs).
// ---------------------------------------------------------------------

/** The project's graph with one more import `from → to`. */
async function withImport(from: string, to: string): Promise<Graph> {
  const graph = new Map(await projectGraph());
  graph.set(from, [...(graph.get(from) ?? []), to]);
  return graph;
}

Deno.test("a core file importing body.ts is refused (upward, and a cycle)", async () => {
  const found = violations(await withImport("_body/writer.ts", "body.ts"));
  assert.ok(found.some((v) => v.startsWith("_body/writer.ts → body.ts: ")));
  assert.ok(found.some((v) => v.startsWith("import cycle: ")));
});

Deno.test("a core file importing an adapter is refused", async () => {
  const found = violations(
    await withImport("_body/reader.ts", "adapters/readable.ts"),
  );
  assert.ok(
    found.some((v) => v.startsWith("_body/reader.ts → adapters/readable.ts")),
  );
});

Deno.test("a type-only cycle inside a capability is refused", async () => {
  const found = violations(
    await withImport(
      "adapters/_serve/server.ts",
      "adapters/_serve/exchange.ts",
    ),
  );
  assert.equal(found.length, 1, found.join("\n"));
  assert.match(found[0]!, /^import cycle: .*adapters\/_serve\/server\.ts/);
});

Deno.test("a private folder imported by a capability not built on it is refused", async () => {
  const found = violations(
    await withImport("adapters/readable.ts", "adapters/_serve/http.ts"),
  );
  assert.deepEqual(found, [
    "adapters/readable.ts → adapters/_serve/http.ts: adapters/_serve/ is private to serve and the capabilities built on it",
  ]);
});

Deno.test("a private folder importing its own public file is refused", async () => {
  const found = violations(
    await withImport("adapters/_serve/http.ts", "adapters/serve.ts"),
  );
  assert.ok(
    found.includes(
      "adapters/_serve/http.ts → adapters/serve.ts: a private folder never imports its own public file",
    ),
  );
});

Deno.test("an adapter reaching into the core past body.ts is refused", async () => {
  const found = violations(
    await withImport("adapters/readable.ts", "_body/reader.ts"),
  );
  assert.deepEqual(found, [
    "adapters/readable.ts → _body/reader.ts: adapters reach the core through body.ts (and _body/check.ts)",
  ]);
});

Deno.test("mod.ts re-exporting a private module is refused", async () => {
  const found = violations(
    await withImport("mod.ts", "adapters/_serve/http.ts"),
  );
  assert.deepEqual(found, [
    "mod.ts → adapters/_serve/http.ts: mod.ts re-exports public files only",
  ]);
});

Deno.test("an example importing a private module is refused", async () => {
  const found = violations(
    await withImport("examples/server.ts", "_body/writer.ts"),
  );
  assert.deepEqual(found, [
    "examples/server.ts → _body/writer.ts: examples import the public entry points only",
  ]);
});

Deno.test("the library importing a test helper is refused", async () => {
  const found = violations(
    await withImport("adapters/serve.ts", "tests/_harness/util.ts"),
  );
  assert.deepEqual(found, [
    "adapters/serve.ts → tests/_harness/util.ts: the library imports only library modules",
  ]);
});

Deno.test("a TypeScript file at the top level is refused", () => {
  const found = violations(new Map([["_reader.ts", []], ["mod.ts", []]]));
  assert.deepEqual(found, [
    "_reader.ts: the top level holds mod.ts and body.ts only",
  ]);
});

Deno.test("cycles finds a two-file cycle and a self-import, and no false one", () => {
  assert.deepEqual(
    cycles(new Map([["a", ["b"]], ["b", ["a"]], ["c", ["c"]], ["d", ["a"]]])),
    [["a", "b"], ["c"]],
  );
  assert.deepEqual(
    cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", []]])),
    [],
  );
});

Deno.test("ARCHITECTURE.md's built-on table is the one the test checks", async () => {
  const text = await Deno.readTextFile(new URL("ARCHITECTURE.md", ROOT));
  const rows = [...text.matchAll(/^ *\| (\w+) +\| ([\w, —]+?) +\|$/gm)]
    .filter(([, name]) => name !== "capability")
    .map(([, name, on]) => [name!, on === "—" ? [] : on!.split(", ")]);
  assert.deepEqual(Object.fromEntries(rows), BUILT_ON);
});
