// fast-check, pinned here and in tests/deno.lock (the lockfile the test,
// check and bench tasks pass with --lock): not in deno.json's imports, so
// that `deno task serve` never fetches what only the tests use.
export { default } from "npm:fast-check@4.10.2";
