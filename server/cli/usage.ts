// Errors of the command line itself; the exit codes and OperatorError are shared with the server.
import { EXIT, OperatorError } from '../operator-error.ts';

export { EXIT, OperatorError };

/** A command-line mistake: printed with the command's usage, exit code 64 (EX_USAGE). */
export class UsageError extends OperatorError {
  override name = 'UsageError';
  constructor(message: string) {
    super(EXIT.usage, message);
  }
}

/** Input that is well formed on the command line but wrong or unknown: exit code 65 (EX_DATAERR). */
export class DataError extends OperatorError {
  override name = 'DataError';
  constructor(message: string) {
    super(EXIT.data, message);
  }
}
