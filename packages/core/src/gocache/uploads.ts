/**
 * Write-behind for the remote tier: puts answer go as soon as the local files exist, and
 * their uploads run here, a few at a time. `drain` waits for them up to a deadline (go is
 * waiting on the close reply); whatever has not finished by then is reported as skipped,
 * never waited out.
 */
export class UploadQueue {
  private queued: (() => Promise<void>)[] = [];
  private running = 0;
  private idle: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  add(job: () => Promise<void>): void {
    this.queued.push(job);
    this.next();
  }

  get pending(): number {
    return this.queued.length + this.running;
  }

  /** Resolves with the number of uploads given up on (unstarted ones are dropped, running ones left to their own deadlines). */
  async drain(deadlineMs: number): Promise<number> {
    if (this.pending === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), deadlineMs)));
    const done = new Promise<'done'>((resolve) => this.idle.push(() => resolve('done')));
    const outcome = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    if (outcome === 'done') return 0;
    const skipped = this.pending;
    this.queued = [];
    return skipped;
  }

  private next(): void {
    while (this.running < this.concurrency && this.queued.length) {
      const job = this.queued.shift()!;
      this.running++;
      // A job reports its own failures; the catch only keeps a bug from becoming an unhandled rejection.
      void job()
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.next();
          if (this.pending === 0) this.idle.splice(0).forEach((wake) => wake());
        });
    }
  }
}
