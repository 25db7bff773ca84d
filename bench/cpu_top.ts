/**
 * The top self-time functions of a V8 `.cpuprofile` (as written by
 * `deno run --cpu-prof`, or by the servers of `bench/http.ts --cpu-prof DIR`).
 *
 * ```sh
 * deno run --allow-read bench/cpu_top.ts FILE.cpuprofile [N] [URL-FILTER]
 * deno run --allow-read bench/cpu_top.ts prof/CPU.123.cpuprofile 25
 * deno run --allow-read bench/cpu_top.ts prof/CPU.123.cpuprofile 15 body.ts
 * ```
 *
 * Prints self time (ms and % of the profile, idle and program time
 * included) per function — name, file and line — the top `N` (default 20),
 * optionally only functions whose URL contains `URL-FILTER`.
 *
 * @module
 */

interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
  };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time in microseconds per function key, and the profile's total. */
export function selfTimes(
  profile: Profile,
): { total: number; byFunction: Map<string, number> } {
  const keys = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === ""
      ? ""
      : ` ${url.replace(/^file:\/\//, "")}:${lineNumber + 1}`;
    keys.set(node.id, `${functionName || "(anonymous)"}${where}`);
  }
  const byFunction = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const key = keys.get(profile.samples[i]!) ?? "(unknown)";
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    byFunction.set(key, (byFunction.get(key) ?? 0) + delta);
    total += delta;
  }
  return { total, byFunction };
}

if (import.meta.main) {
  const [file, count = "20", filter = ""] = Deno.args;
  if (file === undefined) {
    throw new TypeError("usage: cpu_top.ts FILE.cpuprofile [N] [URL-FILTER]");
  }
  const profile = JSON.parse(await Deno.readTextFile(file)) as Profile;
  const { total, byFunction } = selfTimes(profile);
  const top = [...byFunction].filter(([key]) => key.includes(filter))
    .sort((a, b) => b[1] - a[1]).slice(0, Number(count));
  console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
  for (const [key, micros] of top) {
    const ms = (micros / 1000).toFixed(1).padStart(8);
    const share = (100 * micros / total).toFixed(1).padStart(5);
    console.log(`${ms} ms ${share}%  ${key}`);
  }
}
