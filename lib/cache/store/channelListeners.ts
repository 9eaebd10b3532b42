/** Called with each message published on a channel it listens to; must not throw (it runs inside the store). */
export type MessageListener = (message: string) => void;

/**
 * The listeners of each channel a store delivers messages on (BlobStore.subscribe): the bookkeeping both stores share.
 *
 * Invariant: a channel is listed exactly while it has at least one listener, so `add` and `remove` can tell the store
 * when to start and stop listening to the channel itself (Redis SUBSCRIBE / UNSUBSCRIBE).
 */
export class ChannelListeners {
  private readonly byChannel = new Map<string, Set<MessageListener>>();

  /** True when `listener` is the channel's first: the store must start listening to the channel. */
  add(channel: string, listener: MessageListener): boolean {
    const listeners = this.byChannel.get(channel);
    if (listeners !== undefined) {
      listeners.add(listener);
      return false;
    }
    this.byChannel.set(channel, new Set([listener]));
    return true;
  }

  /** True when `listener` was the channel's last: the store may stop listening to the channel. */
  remove(channel: string, listener: MessageListener): boolean {
    const listeners = this.byChannel.get(channel);
    if (listeners === undefined || !listeners.delete(listener) || listeners.size > 0) return false;
    this.byChannel.delete(channel);
    return true;
  }

  /** Calls every listener of `channel` with `message`; returns how many there were. */
  deliver(channel: string, message: string): number {
    const listeners = [...(this.byChannel.get(channel) ?? [])];
    for (const listener of listeners) listener(message);
    return listeners.length;
  }

  clear(): void {
    this.byChannel.clear();
  }
}
