// Built-in modules that cost start-up time and that some commands never use. child_process
// pulls in streams, net and dgram (~3.5 ms to load); `ls`, `inspect` and `--help` spawn
// nothing and take no lock, so they load neither it nor net. A static import would load them
// with the module that names them, whatever the command.
import { createRequire } from 'node:module';

const req = createRequire(import.meta.url);

export const childProcess = (): typeof import('node:child_process') => req('node:child_process');
export const net = (): typeof import('node:net') => req('node:net');
