/** A command-line mistake: printed with the command's usage, exit code 64 (EX_USAGE). */
export class UsageError extends Error {
  override name = 'UsageError';
}
