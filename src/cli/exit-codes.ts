/** Process exit codes of the CLI. Programs calling `notsotuf` rely on these: never renumber. */
export const EXIT = {
  /** Success (for `check`: no update available). */
  ok: 0,
  /** Any failure: bad data, network, install, repository problems. */
  failure: 1,
  /** Bad command line or input. */
  usage: 2,
  /** `check`: an update is available. */
  updateAvailable: 10,
  /** `update`: an update was installed (or handed to the installer). */
  updated: 11,
} as const;
