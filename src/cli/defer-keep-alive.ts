import { Socket } from 'node:net';

/**
 * Under Wine (8.0, Debian 12) a TCP keep-alive set on a socket that is still connecting makes the
 * connect fail (libuv reports UNKNOWN), and Node's fetch sets keep-alive right after `net.connect`,
 * so the Windows client executable could reach no server there (Linux users run Windows apps under
 * Wine and Proton). Real Windows accepts the call either way. This defers such a call to the socket's
 * 'connect' event, which sets the same option a moment later; a connected socket is unchanged.
 * Only the client executable's entry point calls it, on Windows: the process is the CLI's own.
 */
export function deferKeepAliveUntilConnected(): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the socket as `this`
  const setKeepAlive = Socket.prototype.setKeepAlive;
  Socket.prototype.setKeepAlive = function (this: Socket, enable?: boolean, initialDelay?: number): Socket {
    if (this.connecting) {
      this.once('connect', () => setKeepAlive.call(this, enable, initialDelay));
      return this;
    }
    return setKeepAlive.call(this, enable, initialDelay);
  };
}
