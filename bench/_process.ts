/**
 * Benchmark subprocesses (private to `bench/`): servers started with
 * `Deno.execPath()`, watched through their stdout, stopped through their
 * control port; and one-shot programs whose stdout is the answer.
 *
 * Every wait is bounded: readiness, `/quit`, exit.
 *
 * @module
 */

const READY_MS = 30_000;
const EXIT_MS = 5_000;
const FIXTURES = new URL("../tests/fixtures/", import.meta.url).pathname;

let cpuProfileDir: string | null = null;

/**
 * From now on, servers run with `--cpu-prof` and write their profile into
 * `dir` when they exit (`CPU.<time>.<pid>.cpuprofile`).
 */
export function profileServersInto(dir: string): void {
  cpuProfileDir = dir;
}

/** A running benchmark server. */
export interface Server {
  /** How it was started: its file name and arguments, e.g. `stream_ours.ts`. */
  name: string;
  pid: number;
  /** The measured port. */
  port: number;
  /** Every stdout line so far (complete once `stop()` resolved). */
  lines: string[];
  /** Resident set size from `/proc/<pid>/status`, in bytes. */
  rss(): Promise<number>;
  /**
   * CPU time used so far (user + system, all threads), in seconds, to the
   * nanosecond: a 1 GiB download costs ~0.2 s, where `/proc/<pid>/stat`
   * ticks (10 ms) would make a ±5% question of a CPU ratio.
   */
  cpu(): Promise<number>;
  /** Asks the server to exit (`/quit`), kills it if it does not. */
  stop(): Promise<void>;
}

/**
 * Starts `bench/servers/<file>` on a free loopback port and waits until it
 * printed `ready <port> <control port>`.
 *
 * @param name the file, then the server's own arguments if any, separated
 *   by spaces: `"hello_ours.ts"`, `"hello_ours.ts timeouts=off"`.
 * @param v8Flags e.g. `["--trace-gc", "--expose-gc"]`.
 */
export async function startServer(
  name: string,
  v8Flags: string[] = [],
): Promise<Server> {
  const [path, ...serverArgs] = name.split(" ").filter((part) => part !== "");
  const file = new URL(`./servers/${path}`, import.meta.url).pathname;
  const flags = v8Flags.length === 0 ? [] : [`--v8-flags=${v8Flags.join()}`];
  const profile = cpuProfileDir === null
    ? []
    : ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`];
  // The servers pin their npm contenders (Hono) in the specifier; the
  // benchmark must not rewrite the project's lock file. They may read the
  // test certificate (`tls`).
  const permissions = [
    "--no-lock",
    "--allow-net=127.0.0.1",
    "--allow-env=PORT",
    `--allow-read=${FIXTURES}`,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...permissions,
      ...flags,
      ...profile,
      file,
      ...serverArgs,
    ],
    env: { PORT: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const errors: string[] = [];
  const ready = Promise.withResolvers<RegExpExecArray | string>();
  const stdout = collectLines(child.stdout, lines, (line) => {
    const match = /^ready (\d+) (\d+)$/.exec(line);
    if (match !== null) ready.resolve(match);
  });
  const stderr = collectLines(child.stderr, errors);
  const timer = setTimeout(
    () => ready.resolve(`did not get ready in ${READY_MS} ms`),
    READY_MS,
  );
  child.status.then((status) => ready.resolve(`exited (${status.code})`));
  const match = await ready.promise;
  clearTimeout(timer);
  if (typeof match === "string") {
    await killed(child);
    await Promise.all([stdout, stderr]);
    throw new Error(`${name} ${match}:\n${errors.join("\n")}`);
  }
  const port = Number(match[1]);
  const control = `http://127.0.0.1:${match[2]}`;
  let stopped = false;
  return {
    name,
    pid: child.pid,
    port,
    lines,
    async rss() {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (match === null) throw new Error("no VmRSS in /proc status");
      return Number(match[1]) * 1024;
    },
    cpu: threadTime(child.pid),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await (await fetch(`${control}/quit`, {
          signal: AbortSignal.timeout(EXIT_MS),
        })).text();
      } catch {
        // gone already, or hung: the kill below ends it
      }
      const timer = setTimeout(() => killed(child), EXIT_MS);
      await child.status;
      clearTimeout(timer);
      await stdout;
      await stderr;
      if (errors.length > 0) {
        console.error(`[${name} stderr]\n${errors.join("\n")}`);
      }
    },
  };
}

/**
 * A clock of the CPU time of process `pid`: the sum of its threads' run
 * time from `/proc/<pid>/task/<tid>/schedstat` (nanoseconds). A thread that
 * exited since the last reading is counted up to that reading.
 */
function threadTime(pid: number): () => Promise<number> {
  let last = new Map<string, number>();
  let exited = 0;
  return async () => {
    const now = new Map<string, number>();
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const path = `/proc/${pid}/task/${task.name}/schedstat`;
        const runNs = (await Deno.readTextFile(path)).split(" ")[0];
        now.set(task.name, Number(runNs) / 1e9);
      } catch {
        // exited meanwhile: counted up to the last reading, like the others
      }
    }
    for (const [tid, seconds] of last) if (!now.has(tid)) exited += seconds;
    last = now;
    return exited + [...now.values()].reduce((sum, s) => sum + s, 0);
  };
}

/**
 * Runs `deno <args>` to completion (bounded by `timeoutMs`), with `env`
 * added to the environment, and returns its stdout.
 *
 * @throws {Error} when it fails or times out, with its stderr.
 */
export async function runDeno(
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const output = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(
      `deno ${args.join(" ")} failed (${output.code}):\n` +
        new TextDecoder().decode(output.stderr),
    );
  }
  return stdout;
}

/**
 * Whether `command` runs (is on PATH): `command ...args` is started and its
 * exit status ignored (`wrk --version` exits 1).
 */
export async function onPath(command: string, args: string[]) {
  try {
    await new Deno.Command(command, {
      args,
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(EXIT_MS),
    }).output();
    return true;
  } catch {
    return false; // not on PATH: the caller falls back to another client
  }
}

/**
 * Runs `command ...args` (a load tool) to completion, killed after
 * `timeoutMs`, and returns its stdout.
 *
 * @throws {Error} when it fails or times out, with its output.
 */
export async function runTool(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const errors = new TextDecoder().decode(output.stderr);
    throw new Error(`${command} ${args.join(" ")} failed: ${text}${errors}`);
  }
  return text;
}

// Appends each line of `stream` to `lines`, telling `onLine` too.
async function collectLines(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
  onLine: (line: string) => void = () => {},
): Promise<void> {
  let pending = "";
  const add = (line: string) => (lines.push(line), onLine(line));
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (pending + text).split("\n");
    pending = parts.pop()!;
    parts.forEach(add);
  }
  if (pending !== "") add(pending);
}

// Kills `child` unless it exited already; resolves once it has.
async function killed(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // it exited already: nothing left to stop
  }
  await child.status;
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
