//! One run's events, shared by every subscriber: an append-only log of
//! blocks, each slot written once and read in place by any number of
//! subscribers, each with its own cursor.
//!
//! Why it is shaped so: publishing must cost the same with one subscriber
//! or a thousand. The publisher writes each event once, stores the new end,
//! and wakes at most one waiting subscriber, taking no lock while no one
//! waits or an earlier wake is still being passed on; a woken subscriber
//! wakes the next one that waits for the same news before it reads.
//! Nothing is copied per subscriber, and no subscriber can hold the
//! publisher up. The log keeps the newest blocks only; a subscriber whose
//! next event was dropped is told (`seq_dropped`) and its subscription ends.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};
use crate::exec::event::RunEvent;

/// Events in a run's first block; each next block holds twice as many, up
/// to [`MAX_BLOCK`]: a short run costs little, and a subscriber of a long
/// run gets up to a large block of events per wake.
const FIRST_BLOCK: usize = 256;
const MAX_BLOCK: usize = 4_096;

/// A block of events starting at `first`, each slot written once.
pub(super) struct Block {
    first: u64,
    slots: Box<[OnceLock<RunEvent>]>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let written = self.slots.iter().take_while(|s| s.get().is_some()).count();
        write!(f, "Block {{ first: {}, written: {written} }}", self.first)
    }
}

impl Block {
    fn new(first: u64, capacity: usize) -> Arc<Self> {
        Arc::new(Block {
            first,
            slots: (0..capacity).map(|_| OnceLock::new()).collect(),
        })
    }

    /// The `seq` after its last slot.
    fn end(&self) -> u64 {
        self.first + self.slots.len() as u64
    }

    fn holds(&self, seq: u64) -> bool {
        self.first <= seq && seq < self.end()
    }
}

/// Events of one run that a subscriber received together, in `seq` order.
/// Reading them copies nothing.
#[derive(Debug, Clone)]
pub struct EventBatch {
    block: Arc<Block>,
    start: usize,
    end: usize,
}

impl EventBatch {
    /// The `seq` of the first event.
    pub fn first_seq(&self) -> u64 {
        self.block.first + self.start as u64
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &RunEvent> + '_ {
        self.block.slots[self.start..self.end]
            .iter()
            .map(|slot| slot.get().expect("a published slot is written"))
    }
}

/// The log of one run.
#[derive(Debug)]
pub(super) struct EventLog {
    run_id: Arc<str>,
    /// Events published so far: the next `seq`. Stored after the events are
    /// written, so a reader that sees it sees them.
    published: Padded<AtomicU64>,
    /// The newest blocks, oldest first.
    blocks: Padded<Mutex<VecDeque<Arc<Block>>>>,
    /// Published events the blocks keep, at least.
    replay: usize,
    waiters: Padded<Mutex<Waiters>>,
    /// Someone waits (kept under the waiters' lock): without waiters the
    /// publisher takes no lock at all.
    has_waiters: AtomicBool,
    /// A woken subscriber will pass the wake on: while it does, the
    /// publisher takes no lock either.
    chain: AtomicBool,
    /// Publishes since the wake was last passed on: a subscriber woken but
    /// not polled (busy elsewhere) must not hold the others up, so after
    /// [`STALLED`] of them the publisher wakes the next waiter itself.
    chain_age: AtomicU32,
}

const STALLED: u32 = 64;

/// On a cache line of its own: the publisher stores `published` for every
/// event, and subscribers write the locks' lines all the time; sharing a
/// line would make each side wait on the other's writes.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Subscribers waiting for news, in the order of what they had seen.
#[derive(Debug, Default)]
struct Waiters {
    closed: bool,
    /// Subscriber slot and ticket; an entry whose ticket is old is skipped.
    queue: VecDeque<(usize, u64)>,
    slots: Vec<WaitSlot>,
    free: Vec<usize>,
}

#[derive(Debug, Default)]
struct WaitSlot {
    waker: Option<Waker>,
    /// `published` when it queued.
    seen: u64,
    queued: bool,
    /// Counts its turns in the queue.
    ticket: u64,
    /// Woken for news; it wakes the next waiter when it runs (or is dropped).
    woken: bool,
    live: bool,
}

impl Waiters {
    /// Takes the first waiter that has not seen `published`. Waiters queue
    /// with what they had seen, read under this lock, so the queue is in
    /// that order.
    fn next_stale(&mut self, published: u64) -> Option<Waker> {
        while let Some(&(id, ticket)) = self.queue.front() {
            let slot = &mut self.slots[id];
            if !slot.live || !slot.queued || slot.ticket != ticket {
                self.queue.pop_front();
                continue;
            }
            if slot.seen >= published {
                return None;
            }
            self.queue.pop_front();
            slot.queued = false;
            slot.woken = true;
            return slot.waker.take();
        }
        None
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the data is whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl EventLog {
    pub(super) fn new(run_id: Arc<str>, replay: usize) -> Self {
        EventLog {
            run_id,
            published: Padded(AtomicU64::new(0)),
            blocks: Padded(Mutex::new(VecDeque::new())),
            replay,
            waiters: Padded(Mutex::new(Waiters::default())),
            has_waiters: AtomicBool::new(false),
            chain: AtomicBool::new(false),
            chain_age: AtomicU32::new(0),
        }
    }

    /// Under the waiters' lock: the next stale waiter to wake (after the
    /// lock is released), or the end of the chain.
    fn pass_on(&self, waiters: &mut Waiters) -> Option<Waker> {
        loop {
            let published = self.published.load(Ordering::SeqCst);
            let next = waiters.next_stale(published);
            self.has_waiters
                .store(!waiters.queue.is_empty(), Ordering::SeqCst);
            if next.is_some() {
                self.chain_age.store(0, Ordering::Relaxed);
                return next;
            }
            self.chain.store(false, Ordering::SeqCst);
            // A publish that saw the chain still running did not start one.
            if self.published.load(Ordering::SeqCst) == published
                || self.chain.swap(true, Ordering::SeqCst)
            {
                return None;
            }
        }
    }

    /// Appends events (the caller publishes from one place at a time, in
    /// `seq` order). `open` is the publisher's block in writing: while it
    /// holds the next `seq`, publishing takes no lock and touches no count
    /// that subscribers touch.
    pub(super) fn publish(
        &self,
        open: &mut Option<Arc<Block>>,
        events: impl IntoIterator<Item = RunEvent>,
    ) {
        let mut next = self.published.load(Ordering::Relaxed);
        let start = next;
        for event in events {
            debug_assert_eq!(event.seq, next, "events are published in seq order");
            let block = match open {
                Some(block) if block.holds(next) => block,
                _ => open.insert(self.block_for(next)),
            };
            // Each seq is written once.
            let _ = block.slots[(next - block.first) as usize].set(event);
            next += 1;
        }
        if next == start {
            return;
        }
        self.published.store(next, Ordering::SeqCst);
        // One waiter is woken, and only when no chain of wakes is running.
        if self.has_waiters.load(Ordering::SeqCst)
            && (!self.chain.swap(true, Ordering::SeqCst)
                || self.chain_age.fetch_add(1, Ordering::Relaxed) >= STALLED)
        {
            let waker = self.pass_on(&mut lock(&self.waiters));
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// The block to write `seq` in: the newest, or a new one after it
    /// (dropping the oldest blocks that `replay` does not need).
    fn block_for(&self, seq: u64) -> Arc<Block> {
        let mut blocks = lock(&self.blocks);
        if let Some(newest) = blocks.back()
            && newest.holds(seq)
        {
            return newest.clone();
        }
        let capacity = blocks
            .back()
            .map_or(FIRST_BLOCK, |b| (b.slots.len() * 2).min(MAX_BLOCK));
        let mut held: usize = blocks.iter().map(|b| b.slots.len()).sum();
        let mut spare = None;
        while let Some(oldest) = blocks.front() {
            if held - oldest.slots.len() < self.replay {
                break;
            }
            held -= oldest.slots.len();
            spare = blocks.pop_front();
        }
        // A dropped block is reused when no subscriber still reads it: its
        // memory is warm, and a new one would cost an allocation.
        let block = match spare.as_mut().and_then(Arc::get_mut) {
            Some(old) if old.slots.len() == capacity => {
                old.first = seq;
                old.slots.iter_mut().for_each(|slot| drop(slot.take()));
                spare.expect("the spare block")
            }
            _ => Block::new(seq, capacity),
        };
        blocks.push_back(block.clone());
        block
    }

    /// No more events: every subscriber reads to the end, then ends.
    pub(super) fn close(&self) {
        let wakers: Vec<Waker> = {
            let mut waiters = lock(&self.waiters);
            waiters.closed = true;
            let queue = std::mem::take(&mut waiters.queue);
            queue
                .into_iter()
                .filter_map(|(id, _)| {
                    let slot = &mut waiters.slots[id];
                    slot.queued = false;
                    slot.waker.take()
                })
                .collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The oldest `seq` still held (the next one when none is).
    pub(super) fn oldest(&self) -> u64 {
        lock(&self.blocks)
            .front()
            .map_or_else(|| self.published.load(Ordering::Acquire), |b| b.first)
    }

    pub(super) fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    fn dropped(&self, seq: u64, oldest: u64) -> Error {
        Error::SeqDropped {
            run_id: self.run_id.to_string(),
            seq,
            oldest,
        }
    }
}

/// One subscriber's cursor into a run's events. Read with
/// [`Subscription::next_batch`] or [`Subscription::next`]; a subscriber that
/// falls more than the hub's `replay` events behind gets `seq_dropped` once,
/// and then the end.
#[derive(Debug)]
pub struct Subscription {
    log: Arc<EventLog>,
    /// The next `seq` to read.
    cursor: u64,
    /// The block the cursor is in, once found.
    block: Option<Arc<Block>>,
    /// Its slot in the log's waiters.
    id: usize,
    ended: bool,
    /// It queued for a wake since it last looked under the lock.
    queued: bool,
    /// Events of the current batch not handed out yet, for `next`.
    rest: Option<EventBatch>,
}

impl Subscription {
    /// From `seq` on; refused with `seq_dropped` when the log no longer
    /// holds it.
    pub(super) fn new(log: Arc<EventLog>, seq: u64) -> Result<Self> {
        let oldest = log.oldest();
        if seq < oldest {
            return Err(log.dropped(seq, oldest));
        }
        let id = {
            let mut waiters = lock(&log.waiters);
            let id = waiters.free.pop().unwrap_or_else(|| {
                waiters.slots.push(WaitSlot::default());
                waiters.slots.len() - 1
            });
            let ticket = waiters.slots[id].ticket;
            waiters.slots[id] = WaitSlot {
                live: true,
                ticket,
                ..WaitSlot::default()
            };
            id
        };
        Ok(Subscription {
            log,
            cursor: seq,
            block: None,
            id,
            ended: false,
            queued: false,
            rest: None,
        })
    }

    /// The `seq` of the next event this subscription reads.
    pub fn next_seq(&self) -> u64 {
        self.rest
            .as_ref()
            .map_or(self.cursor, EventBatch::first_seq)
    }

    /// The events published since the last call, at most a block's worth,
    /// waiting until there are some. `Ok(None)` once the run's last event
    /// was read; `Err` (`seq_dropped`) when this subscriber fell so far
    /// behind that its next event was dropped — the subscription has ended.
    pub async fn next_batch(&mut self) -> Result<Option<EventBatch>> {
        if let Some(rest) = self.rest.take() {
            return Ok(Some(rest));
        }
        std::future::poll_fn(|cx| self.poll_batch(cx)).await
    }

    /// The next event (a copy), waiting until there is one; ends as
    /// [`Subscription::next_batch`] does.
    pub async fn next(&mut self) -> Result<Option<RunEvent>> {
        let mut batch = match self.rest.take() {
            Some(batch) => batch,
            None => match std::future::poll_fn(|cx| self.poll_batch(cx)).await? {
                Some(batch) => batch,
                None => return Ok(None),
            },
        };
        let event = batch.iter().next().cloned();
        batch.start += 1;
        if !batch.is_empty() {
            self.rest = Some(batch);
        }
        Ok(event)
    }

    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<EventBatch>>> {
        if self.ended {
            return Poll::Ready(Ok(None));
        }
        let log = self.log.clone();
        // Not queued for a wake: read without the lock while there is news.
        if !self.queued {
            let published = log.published.load(Ordering::Acquire);
            if self.cursor < published {
                return Poll::Ready(self.take(published).map(Some));
            }
        }
        let mut waiters = lock(&log.waiters);
        // Woken for news: pass the wake on before reading.
        let passed = if std::mem::take(&mut waiters.slots[self.id].woken) {
            log.pass_on(&mut waiters)
        } else {
            None
        };
        self.queued = waiters.slots[self.id].queued;
        let published = log.published.load(Ordering::SeqCst);
        let outcome = if self.cursor < published {
            drop(waiters);
            Poll::Ready(self.take(published).map(Some))
        } else if waiters.closed {
            drop(waiters);
            self.ended = true;
            Poll::Ready(Ok(None))
        } else {
            let seen = published;
            let slot = &mut waiters.slots[self.id];
            match &mut slot.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                w => *w = Some(cx.waker().clone()),
            }
            if !slot.queued {
                slot.queued = true;
                slot.seen = seen;
                slot.ticket += 1;
                let entry = (self.id, slot.ticket);
                waiters.queue.push_back(entry);
                log.has_waiters.store(true, Ordering::SeqCst);
            }
            self.queued = true;
            // A publish since `published` was read may have seen no waiter.
            if log.published.load(Ordering::SeqCst) > seen {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        };
        if let Some(waker) = passed {
            waker.wake();
        }
        outcome
    }

    /// Reads from the cursor up to `published`, within one block.
    fn take(&mut self, published: u64) -> Result<EventBatch> {
        let cursor = self.cursor;
        let block = match &self.block {
            Some(block) if block.holds(cursor) => block.clone(),
            _ => {
                let found = {
                    let blocks = lock(&self.log.blocks);
                    let oldest = blocks.front().map_or(cursor, |b| b.first);
                    let index = blocks.partition_point(|b| b.end() <= cursor);
                    match blocks.get(index) {
                        Some(block) if block.holds(cursor) => Ok(block.clone()),
                        _ => Err(oldest),
                    }
                };
                match found {
                    Ok(block) => {
                        self.block = Some(block.clone());
                        block
                    }
                    Err(oldest) => {
                        self.ended = true;
                        self.block = None;
                        return Err(self.log.dropped(self.cursor, oldest));
                    }
                }
            }
        };
        let base = block.first;
        let start = (cursor - base) as usize;
        let end = (published - base).min(block.slots.len() as u64) as usize;
        self.cursor = base + end as u64;
        Ok(EventBatch { block, start, end })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let passed = {
            let mut waiters = lock(&self.log.waiters);
            let slot = &mut waiters.slots[self.id];
            let woken = slot.woken;
            *slot = WaitSlot {
                ticket: slot.ticket,
                ..WaitSlot::default()
            };
            waiters.free.push(self.id);
            // A wake meant for news goes on to the next waiter.
            if woken {
                self.log.pass_on(&mut waiters)
            } else {
                None
            }
        };
        if let Some(waker) = passed {
            waker.wake();
        }
    }
}
