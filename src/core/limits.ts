/**
 * Bounds on what the client reads from outside, each with its unit in the name. Lengths of target
 * files always come from signed metadata; these caps guard the few places where no signed length
 * exists yet, and stop a signed-but-absurd repository from making the client loop or fill the disk.
 */
export const CLIENT_LIMITS = {
  /** Most patches one update may chain before the client takes the full archive instead. */
  maxPatchChainSteps: 64,
  /** Most notsotuf targets the planner looks at in one repository. */
  maxTargets: 100_000,
  /** Biggest target file (archive or patch) the client agrees to download: 8 GiB. */
  maxTargetBytes: 8 * 1024 ** 3,
  /** Biggest state file (state.json, install id) read back from the state folder. */
  maxStateFileBytes: 1024 * 1024,
  /** Biggest trusted root.json given to the client (shipped with the app). */
  maxRootBytes: 512 * 1024,
  /** Biggest `--config` file of the CLI. */
  maxConfigBytes: 64 * 1024,
} as const;
