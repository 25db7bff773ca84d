/**
 * The two lines above the table (private to `bench/`): what was measured
 * (revision, date, Deno, cores, CPU) and how (run kind, rounds, client,
 * sizes).
 *
 * @module
 */

import type { Sizes } from "./_context.ts";
import { count, fmt } from "./_report.ts";

const MiB = 2 ** 20;

/** The header of a run with `sizes`. */
export async function header(
  sizes: Sizes,
  run: { quick: boolean; rounds: number; client: "raw" | "fetch" },
): Promise<string[]> {
  return [
    `@httpaf/body ${await revision()} benchmarks, ` +
    `${new Date().toISOString().slice(0, 10)}: ` +
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
    `${navigator.hardwareConcurrency} cores (${await cpuModel()})`,
    `${run.quick ? "quick (smoke sizes)" : "full"} run, ` +
    `${count(run.rounds, "round")}, ` +
    `${run.client === "raw" ? "raw HTTP/1.1" : "fetch"} clients; sizes: ` +
    `stream ${sizes.streamBytes / MiB} MiB, ` +
    `download ${sizes.downloadBytes / MiB} MiB, ` +
    `upload ${sizes.uploadBytes / MiB} MiB, ` +
    `hello ${sizes.helloConnections} conns × ${sizes.helloMs} ms, ` +
    `idle ${fmt(sizes.idleCount)} bodies, ` +
    `stalled ${sizes.stallBytes / MiB} MiB × ${sizes.stallMs} ms, ` +
    `in-process ${fmt(sizes.writes)} writes, ` +
    `h2 ${sizes.h2Bytes / MiB} MiB and ${sizes.h2Connections} conns × ` +
    `${sizes.h2Streams} streams, ` +
    `compressed ${sizes.compressBytes / MiB} MiB, ` +
    `SSE ${fmt(sizes.sseEvents)} events`,
  ];
}

/** "abc1234" or "abc1234+dirty" (library files changed): what was measured. */
async function revision(): Promise<string> {
  const git = async (...args: string[]) => {
    const output = await new Deno.Command("git", {
      args,
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success
      ? new TextDecoder().decode(output.stdout).trim()
      : null;
  };
  try {
    const head = await git("rev-parse", "--short", "HEAD");
    const library = ["body.ts", "mod.ts", "_*.ts", "adapters"];
    const changed = await git("status", "--porcelain", "--", ...library);
    if (head === null) return "unknown revision";
    return head + (changed ? "+dirty" : "");
  } catch {
    return "unknown revision"; // no git on PATH: the header says so
  }
}

async function cpuModel(): Promise<string> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU"; // not Linux: the header says so
  }
}
