// Typed errors: the CLI maps the class to an exit code (docs/reference.md §6), never the message text.

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

/** What a failed kernel change said, classified once where the tool's text is read (kernel/ip.ts). */
export type KernelFault = 'exists' | 'exchange-full' | 'gone' | 'other';

/** `ip` or `bridge` refused a change; callers decide on `fault`, never on the message. */
export class KernelError extends SystemError {
  constructor(
    message: string,
    readonly fault: KernelFault,
  ) {
    super(message);
  }
}

/** An operation failed and undoing it failed too: what is left is journaled for the next command. */
export class RollbackError extends SystemError {}

/** A peer service (a plugin, the cluster store) did not answer: a journaled call to it is tried again later. */
export class UnreachableError extends SystemError {}

/** A peer service (a plugin) answered no: nothing of the request took effect, so it is not undone. */
export class RefusedError extends SystemError {}
