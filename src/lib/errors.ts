// Typed errors: the CLI maps the class to an exit code (SPEC §6), never the message text.

export class NetctlError extends Error {
  readonly exitCode: number = 1;
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad usage: unknown flag, bad flag value, wrong argument count (exit 125, as Docker). */
export class UsageError extends NetctlError {
  override readonly exitCode = 125;
}

export class NotFoundError extends NetctlError {}
export class ConflictError extends NetctlError {}
export class InvalidArgumentError extends NetctlError {}
export class ForbiddenError extends NetctlError {}
/** The kernel or a helper binary failed. */
export class SystemError extends NetctlError {}
