/** The keys on the transfer queue: cancel one transfer or all, pause, dismiss the ended. */
import type { ScreenContext } from './context';

/** Ctrl-X: asks which transfer to cancel (the first running or queued is offered). */
export function cancelTransfer(ctx: ScreenContext): void {
  const queue = ctx.session.queue;
  const pending = queue.jobs().filter((j) => j.state === 'running' || j.state === 'queued');
  const first = pending[0];
  if (!first) {
    ctx.info('no transfer to cancel');
    return;
  }
  ctx.ask(
    'Cancel transfer number (or "all"): ',
    async (text) => {
      const t = text.trim();
      if (t === '') return;
      if (t === 'all') {
        queue.cancelAll();
        return;
      }
      const id = Number(t.replace(/^#/, ''));
      if (!Number.isInteger(id) || !queue.cancel(id)) {
        ctx.error(`no queued or running transfer #${t}`);
      }
    },
    String(first.id),
  );
}

/** Ctrl-P: no queued transfer starts while paused; running ones go on. */
export function togglePause(ctx: ScreenContext): void {
  const queue = ctx.session.queue;
  queue.setPaused(!queue.paused);
  ctx.info(
    queue.paused
      ? 'the queue is paused: running transfers finish, no new one starts (Ctrl-P goes on)'
      : 'the queue goes on',
  );
}

/** Ctrl-D: forgets the ended transfers, failed ones included. */
export function dismissEnded(ctx: ScreenContext): void {
  const n = ctx.session.queue.forgetEnded();
  ctx.info(n > 0 ? `dismissed ${n} ended transfer(s)` : 'no ended transfers to dismiss');
  ctx.render();
}
