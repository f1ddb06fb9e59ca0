//! The threads that call Python runner functions.
//!
//! Taking the GIL, and a thread state to take it with, is the dear part of
//! calling a short function. So a thread here stays attached to the
//! interpreter (its thread state is made once), and once it has the GIL it
//! calls every function that is ready, one after the other, before it lets
//! the GIL go. A function that blocks (sleeps, waits for I/O or for another
//! run) must not hold up the calls queued behind it: while calls are queued
//! an idle thread watches, and takes the oldest once it has waited for
//! [`PATIENCE`]; a thread that takes a call makes sure another one watches.
//! So as many functions run at once as are started, and none waits on
//! another forever.
//!
//! The threads belong to the process that made them: a child made by
//! `fork()` has none of them and makes its own (like the runtime).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// How long a queued call waits for the thread that is calling functions
/// before an idle thread takes it.
const PATIENCE: Duration = Duration::from_millis(1);
/// How long a thread that has called everything queued looks for the next
/// call before it sleeps.
const LINGER: Duration = Duration::from_micros(50);
/// How long a thread with nothing to do stays for the next call.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Work that needs the GIL; given `None` when the interpreter is gone.
pub type Call = Box<dyn FnOnce(Option<Python<'_>>) + Send>;

#[derive(Default)]
struct Queue {
    calls: VecDeque<(Instant, Call)>,
    /// Threads waiting for a call.
    idle: usize,
    /// Threads made that do not wait yet.
    starting: usize,
    /// Threads calling functions.
    calling: usize,
    /// Calling threads looking for the next call (see `Pool::linger`).
    lingering: usize,
}

#[derive(Default)]
struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// The pool and the process it was made in.
static POOL: Mutex<Option<(u32, Arc<Pool>)>> = Mutex::new(None);

/// Queues `call` to run on a thread holding the GIL; an error when no
/// thread could be made to run it.
pub fn submit(call: Call) -> std::io::Result<()> {
    let pool = pool();
    let mut queue = pool.lock();
    let was_empty = queue.calls.is_empty();
    queue.calls.push_back((Instant::now(), call));
    if queue.idle + queue.starting == 0 {
        return Pool::spawn(&pool, queue);
    }
    if queue.lingering > 0 {
        // A calling thread is about to take it.
        return Ok(());
    }
    if queue.calling == 0 || was_empty {
        // Nobody calls, or the idle threads wait without a deadline: wake
        // one to take the call, or to watch how long it waits.
        pool.ready.notify_one();
    }
    Ok(())
}

fn pool() -> Arc<Pool> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((made_in, pool)) = slot.as_ref()
        && *made_in == pid
    {
        return pool.clone();
    }
    let pool = Arc::new(Pool::default());
    if let Some(parent) = slot.replace((pid, pool.clone())) {
        // The parent's pool, inherited by a forked child: its threads and
        // its lock's state are the parent's; never touch them.
        std::mem::forget(parent);
    }
    pool
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One more thread; when none can be made and no thread is left to
    /// take the newest call, the call is taken back and the error returned.
    fn spawn(pool: &Arc<Pool>, mut queue: MutexGuard<'_, Queue>) -> std::io::Result<()> {
        queue.starting += 1;
        drop(queue);
        let serving = pool.clone();
        let spawned = std::thread::Builder::new()
            .name("reelgraph-python".into())
            .spawn(move || serving.serve());
        let Err(err) = spawned else {
            return Ok(());
        };
        let mut queue = pool.lock();
        queue.starting -= 1;
        if queue.idle + queue.calling + queue.starting == 0 {
            let taken = queue.calls.pop_back();
            drop(queue);
            drop(taken);
            return Err(err);
        }
        Ok(())
    }

    /// A thread's life: attached to the interpreter all along, it waits for
    /// calls with the GIL released, then calls everything queued under one
    /// hold of the GIL. Gone after [`KEEP_ALIVE`] with nothing to do.
    fn serve(self: Arc<Self>) {
        {
            let mut queue = self.lock();
            queue.starting -= 1;
            queue.idle += 1;
        }
        let attached = Python::try_attach(|py| {
            loop {
                let Some(first) = py.detach(|| self.wait_for_call()) else {
                    return;
                };
                let mut next = Some(first);
                while let Some(call) = next {
                    call(Some(py));
                    // Its own statement: the lock must be free during a
                    // call, or a call that lets the GIL go could deadlock
                    // with a thread holding the GIL and waiting for the lock.
                    next = self.lock().calls.pop_front().map(|(_, call)| call);
                    if next.is_none() {
                        next = py.detach(|| self.linger());
                    }
                }
                let mut queue = self.lock();
                queue.calling -= 1;
                queue.idle += 1;
            }
        });
        if attached.is_none() {
            // The interpreter is gone: every call learns it.
            let mut queue = self.lock();
            queue.idle -= 1;
            let calls = std::mem::take(&mut queue.calls);
            drop(queue);
            calls.into_iter().for_each(|(_, call)| call(None));
        }
    }

    /// The next call, if one comes within [`LINGER`]: the runtime usually
    /// starts the next task a few microseconds after one ends, and looking
    /// for it that long is cheaper than going to sleep and being woken.
    fn linger(self: &Arc<Self>) -> Option<Call> {
        self.lock().lingering += 1;
        let until = Instant::now() + LINGER;
        loop {
            std::thread::yield_now();
            let mut queue = self.lock();
            let call = queue.calls.pop_front();
            if call.is_some() || Instant::now() >= until {
                queue.lingering -= 1;
                self.watch_rest(queue);
                return call.map(|(_, call)| call);
            }
        }
    }

    /// Waits, as an idle thread, for the call to take: the first one queued
    /// when nobody else is calling, or once it has waited for [`PATIENCE`].
    /// The thread then counts as calling; None (and gone) after
    /// [`KEEP_ALIVE`] with nothing queued.
    fn wait_for_call(self: &Arc<Self>) -> Option<Call> {
        let mut queue = self.lock();
        let mut quiet_since = Instant::now();
        loop {
            let wait = match queue.calls.front() {
                Some((queued, _)) if queue.calling > 0 && queued.elapsed() < PATIENCE => {
                    quiet_since = Instant::now();
                    PATIENCE.saturating_sub(queued.elapsed())
                }
                Some(_) => break,
                None if quiet_since.elapsed() >= KEEP_ALIVE => {
                    queue.idle -= 1;
                    return None;
                }
                None => KEEP_ALIVE.saturating_sub(quiet_since.elapsed()),
            };
            queue = self
                .ready
                .wait_timeout(queue, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let call = queue.calls.pop_front().map(|(_, call)| call);
        queue.idle -= 1;
        queue.calling += 1;
        self.watch_rest(queue);
        call
    }

    /// After a thread took a call: someone must watch the calls left, in
    /// case that one blocks.
    fn watch_rest(self: &Arc<Self>, queue: MutexGuard<'_, Queue>) {
        if queue.calls.is_empty() {
            return;
        }
        if queue.idle > 0 {
            self.ready.notify_one();
        } else if queue.starting == 0 {
            // Without a new thread the queued calls wait for a calling
            // thread to be free; they still run then.
            let _ = Pool::spawn(self, queue);
        }
    }
}
