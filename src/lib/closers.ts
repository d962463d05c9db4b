// Connections a command opened that would keep the process alive after it is done (the
// cluster store's gRPC channel): main() closes them once the command settled.
const closers: Array<() => void> = [];

export const closeAtEnd = (fn: () => void): void => {
  closers.push(fn);
};

export function closeAll(): void {
  for (const fn of closers.splice(0)) {
    try {
      fn();
    } catch {
      /* closing is best-effort: the process ends anyway */
    }
  }
}
