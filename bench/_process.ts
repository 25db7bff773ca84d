/**
 * Benchmark subprocesses (private to `bench/`): servers started with
 * `Deno.execPath()`, watched through their stdout, stopped through their
 * control port; and one-shot programs whose stdout is the answer.
 *
 * Every wait is bounded: readiness, `/stats`, `/quit`, exit.
 *
 * @module
 */

const READY_MS = 30_000;
const EXIT_MS = 5_000;
// USER_HZ of /proc/<pid>/stat: 100 on every Linux build Deno ships for.
const CLOCK_TICKS = 100;

let cpuProfileDir: string | null = null;

/**
 * From now on, servers run with `--cpu-prof` and write their profile into
 * `dir` when they exit (`CPU.<time>.<pid>.cpuprofile`).
 */
export function profileServersInto(dir: string): void {
  cpuProfileDir = dir;
}

/** Memory figures a server's `/stats` answers (bytes). */
export type { Stats } from "./servers/_serve.ts";
import type { Stats } from "./servers/_serve.ts";

/** A running benchmark server. */
export interface Server {
  /** Its file name, e.g. `stream_ours.ts`. */
  name: string;
  pid: number;
  /** The measured port. */
  port: number;
  /** Every stdout line so far (complete once `stop()` resolved). */
  lines: string[];
  /** `/stats` on the control port. */
  stats(): Promise<Stats>;
  /** Resident set size from `/proc/<pid>/status`, in bytes. */
  rss(): Promise<number>;
  /** CPU time used so far (user + system, all threads), in seconds. */
  cpu(): Promise<number>;
  /** Asks the server to exit (`/quit`), kills it if it does not. */
  stop(): Promise<void>;
}

/**
 * Starts `bench/servers/<name>` on a free loopback port and waits until it
 * printed `ready <port> <control port>`.
 *
 * @param v8Flags e.g. `["--trace-gc", "--expose-gc"]`.
 */
export async function startServer(
  name: string,
  v8Flags: string[] = [],
): Promise<Server> {
  const profile = cpuProfileDir === null
    ? []
    : ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`];
  const file = new URL(`./servers/${name}`, import.meta.url).pathname;
  const args = [
    "run",
    "--quiet",
    // The servers pin their npm contenders (Hono) in the specifier; the
    // benchmark must not rewrite the project's lock file.
    "--no-lock",
    "--allow-net=127.0.0.1",
    "--allow-env=PORT",
  ];
  if (v8Flags.length > 0) args.push(`--v8-flags=${v8Flags.join(",")}`);
  args.push(...profile, file);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { PORT: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const errors: string[] = [];
  const stdout = collectLines(child.stdout, lines);
  const stderr = collectLines(child.stderr, errors);
  let ready: RegExpExecArray | null = null;
  const until = performance.now() + READY_MS;
  while (ready === null && performance.now() < until) {
    for (const line of lines) {
      ready ??= /^ready (\d+) (\d+)$/.exec(line);
    }
    if (ready === null) await delay(20);
  }
  if (ready === null) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(
      `${name} did not get ready in ${READY_MS} ms:\n${errors.join("\n")}`,
    );
  }
  const port = Number(ready[1]);
  const control = `http://127.0.0.1:${ready[2]}`;
  let stopped = false;
  return {
    name,
    pid: child.pid,
    port,
    lines,
    async stats() {
      const response = await fetch(`${control}/stats`, {
        signal: AbortSignal.timeout(EXIT_MS),
      });
      return await response.json() as Stats;
    },
    async rss() {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (match === null) throw new Error("no VmRSS in /proc status");
      return Number(match[1]) * 1024;
    },
    async cpu() {
      const stat = await Deno.readTextFile(`/proc/${child.pid}/stat`);
      // Fields after "(comm)": state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
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
      const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_MS);
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

async function collectLines(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
): Promise<void> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    for (const part of parts) lines.push(part);
  }
  if (pending !== "") lines.push(pending);
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
