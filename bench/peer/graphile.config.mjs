// PostGraphile v5 as the benchmark's peer (bench/run.py starts it with `-c <url> -s public`).
// The amber preset, as a user would pick it, with one change: PgIndexBehaviorsPlugin is
// off, so every column can be ordered and filtered on. PartnerDesk orders domains by name
// and filters tasks by status, columns without an index of their own; the peer must be
// able to ask for the same rows.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

export default {
  extends: [PostGraphileAmberPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
};
