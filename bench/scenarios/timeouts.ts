/**
 * `timeouts`: what `withBody`'s read and write timeouts cost — the hello,
 * download and upload servers of ours with the defaults (60 s each: a
 * coarse clock sweeps the waiting bodies, no timer per read or flush)
 * against the same servers with `readTimeout: Infinity, writeTimeout:
 * Infinity` (`timeouts=off`), side by side, at the sizes and clients of
 * the `hello`, `download` and `upload` scenarios. A 3% question on a busy
 * 2-core machine: a third server, the same as `off`, measures the noise
 * floor (A/A), and the server CPU per unit is compared too.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import type { Server } from "../_process.ts";
import { atLeast, INFO } from "../_report.ts";
import {
  type Measure,
  MIB_S,
  perMiB,
  REQ_S,
  sideBySide,
  type Unit,
} from "../_runner.ts";
import { helloLoad } from "./hello.ts";

/** One server's pair of rows. */
interface Case {
  scenario: string;
  server: string;
  rounds: number;
  run: (server: Server) => Promise<Measure>;
  unit: Unit;
  per: string;
}

export async function timeouts(ctx: Context): Promise<void> {
  const { downloadBytes, uploadBytes, helloConnections: conns } = ctx.sizes;
  const load = await helloLoad(ctx);
  const cases: Case[] = [{
    scenario: `2 KiB hello, ${conns} keep-alive conns, ${load.client}`,
    server: "hello_ours.ts",
    rounds: ctx.rounds * 2,
    run: load.run,
    unit: REQ_S,
    per: "req",
  }, {
    scenario: `${downloadBytes / 2 ** 20} MiB download`,
    server: "download_ours.ts",
    rounds: ctx.rounds * 3, // short runs, as in `download`
    run: async (server) => perMiB(await ctx.get(server, downloadBytes)),
    unit: MIB_S,
    per: "MiB",
  }, {
    scenario: `${uploadBytes / 2 ** 20} MiB upload`,
    server: "upload_ours.ts",
    rounds: ctx.rounds * 2,
    run: async (server) => perMiB(await ctx.post(server, uploadBytes)),
    unit: MIB_S,
    per: "MiB",
  }];
  for (const { scenario, server, rounds, run, unit, per } of cases) {
    await sideBySide(ctx, {
      scenario: `HTTP ${scenario}: timeouts on vs off`,
      rounds,
      contenders: {
        on: server,
        off: `${server} timeouts=off`,
        again: `${server} timeouts=off`,
      },
      run,
      unit,
      rows: [
        { ref: "off", label: "ours, timeouts off (Infinity)" },
        {
          ours: "on",
          vs: "off",
          label: "timeouts on (60 s defaults) vs off",
          target: atLeast(0.97),
        },
        {
          ours: "on",
          vs: "off",
          label: `timeouts on vs off, server CPU per ${per} (off / on)`,
          target: INFO,
          by: "cpu",
        },
        {
          ours: "again",
          vs: "off",
          label: "A/A: the off server against its twin (noise floor)",
          target: INFO,
        },
      ],
    });
  }
}
