//! The running items of a for_each step, each with a waker of its own: when an API answer
//! arrives only the item it belongs to is polled again, not every running item. (Polling all
//! of them on every wake re-entered each node's wasm fiber for nothing: at concurrency 32 that
//! was 32 fiber switches per answer.)
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type Slot<'a, T> = Option<(usize, Pin<Box<dyn Future<Output = T> + Send + 'a>>)>;

/// Futures keyed by an index (the item's), polled only after they were woken.
pub(crate) struct InFlight<'a, T> {
    slots: Vec<Slot<'a, T>>,
    wakers: Vec<Waker>,
    woken: Arc<Woken>,
    len: usize,
}

/// Which slots were woken since they were last polled, and who waits for any of them.
#[derive(Default)]
struct Woken {
    state: Mutex<WokenState>,
}

#[derive(Default)]
struct WokenState {
    marked: Vec<bool>,
    order: Vec<usize>,
    waiter: Option<Waker>,
}

impl Woken {
    fn mark(&self, slot: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if slot >= state.marked.len() {
            state.marked.resize(slot + 1, false);
        }
        if !state.marked[slot] {
            state.marked[slot] = true;
            state.order.push(slot);
        }
        let waiter = state.waiter.take();
        drop(state);
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    /// The slots woken so far (cleared), remembering `waiter` for the next wake.
    fn take(&self, waiter: &Waker) -> Vec<usize> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &state.waiter {
            Some(w) if w.will_wake(waiter) => {}
            _ => state.waiter = Some(waiter.clone()),
        }
        let order = std::mem::take(&mut state.order);
        for &slot in &order {
            state.marked[slot] = false;
        }
        order
    }
}

struct SlotWaker {
    slot: usize,
    woken: Arc<Woken>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.woken.mark(self.slot);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.mark(self.slot);
    }
}

impl<'a, T> InFlight<'a, T> {
    pub(crate) fn new() -> Self {
        Self {
            slots: Vec::new(),
            wakers: Vec::new(),
            woken: Arc::new(Woken::default()),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the future of item `key`; it is polled on the next [`next`](Self::next).
    pub(crate) fn push(&mut self, key: usize, future: Pin<Box<dyn Future<Output = T> + Send + 'a>>) {
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.slots.push(None);
                self.wakers.push(Waker::from(Arc::new(SlotWaker {
                    slot: self.slots.len() - 1,
                    woken: self.woken.clone(),
                })));
                self.slots.len() - 1
            }
        };
        self.slots[slot] = Some((key, future));
        self.len += 1;
        self.woken.mark(slot);
    }

    /// Waits for any future to finish; returns its key and output. Pending forever when empty.
    pub(crate) async fn next(&mut self) -> (usize, T) {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<(usize, T)> {
        // A bounded number of rounds, so a future that wakes itself at every poll cannot keep
        // this task from yielding to the executor.
        for _ in 0..4 {
            let woken = self.woken.take(cx.waker());
            if woken.is_empty() {
                return Poll::Pending;
            }
            for (n, &slot) in woken.iter().enumerate() {
                let Some((key, future)) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                    continue; // finished since it was woken
                };
                let key = *key;
                let mut slot_cx = Context::from_waker(&self.wakers[slot]);
                if let Poll::Ready(output) = future.as_mut().poll(&mut slot_cx) {
                    self.slots[slot] = None;
                    self.len -= 1;
                    // The slots woken with it but not polled yet are polled at the next call.
                    for &rest in &woken[n + 1..] {
                        self.woken.mark(rest);
                    }
                    return Poll::Ready((key, output));
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Whether a [`Gate`] is open, and who waits for it.
    type Opening = Arc<Mutex<(bool, Option<Waker>)>>;

    /// A future that stays pending until `open` is set, counting its polls.
    struct Gate {
        open: Opening,
        polls: Arc<AtomicUsize>,
    }

    impl Future for Gate {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            let mut open = self.open.lock().unwrap();
            if open.0 {
                Poll::Ready(())
            } else {
                open.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn gate() -> (Gate, Opening, Arc<AtomicUsize>) {
        let open = Arc::new(Mutex::new((false, None)));
        let polls = Arc::new(AtomicUsize::new(0));
        let g = Gate {
            open: open.clone(),
            polls: polls.clone(),
        };
        (g, open, polls)
    }

    fn release(open: &Mutex<(bool, Option<Waker>)>) {
        let waker = {
            let mut open = open.lock().unwrap();
            open.0 = true;
            open.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    #[tokio::test]
    async fn only_the_woken_item_is_polled_again() {
        let mut in_flight: InFlight<'_, ()> = InFlight::new();
        let mut gates = Vec::new();
        for key in 0..8 {
            let (g, open, polls) = gate();
            in_flight.push(key, Box::pin(g));
            gates.push((open, polls));
        }
        // Item 5 finishes later, from another task, as an API answer would.
        let open5 = gates[5].0.clone();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            release(&open5);
        });
        let (key, ()) = in_flight.next().await;
        assert_eq!(key, 5);
        assert_eq!(in_flight.len(), 7);
        for (i, (_, polls)) in gates.iter().enumerate() {
            let expected = if i == 5 { 2 } else { 1 };
            assert_eq!(polls.load(Ordering::SeqCst), expected, "item {i}");
        }
    }

    #[tokio::test]
    async fn every_item_finishes_once_whatever_the_order_and_slots_are_reused() {
        let mut in_flight: InFlight<'_, usize> = InFlight::new();
        let mut opens = Vec::new();
        for key in 0..4 {
            let (g, open, _) = gate();
            in_flight.push(key, Box::pin(async move {
                g.await;
                key * 10
            }));
            opens.push(open);
        }
        // Items released together: all are reported, one per call.
        for open in opens.iter().rev() {
            release(open);
        }
        let mut done = Vec::new();
        for _ in 0..2 {
            done.push(in_flight.next().await);
        }
        // A new item takes a freed slot and is polled at once.
        in_flight.push(9, Box::pin(async { 90 }));
        while !in_flight.is_empty() {
            done.push(in_flight.next().await);
        }
        done.sort();
        assert_eq!(done, vec![(0, 0), (1, 10), (2, 20), (3, 30), (9, 90)]);
        assert_eq!(in_flight.slots.len(), 4, "the fifth item reused a slot");
    }
}
