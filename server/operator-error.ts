// What the server or a command reports to the operator when it cannot do what was asked, with its exit code from
// sysexits(3): the numbers scripts and supervisors (systemd's RestartPreventExitStatus=78) know.
export const EXIT = {
  ok: 0,
  /** The command line is wrong: unknown option, missing argument. */
  usage: 64,
  /** The input is wrong or names nothing: an IBAN whose checksum fails, an unknown client id. */
  data: 65,
  /** A bug: an unexpected error (with its stack on standard error). */
  software: 70,
  /** A file could not be read or written: the database, a TLS file, the backup target. */
  io: 74,
  /** The configuration (environment variables) is wrong. */
  config: 78,
} as const;

/** An error the operator can act on: printed as one line, the process exits with `exitCode`. */
export class OperatorError extends Error {
  override name = 'OperatorError';
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}
