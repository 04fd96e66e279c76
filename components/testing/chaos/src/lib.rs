//! The chaos node: proves that a node which loops, traps or eats memory is stopped by the
//! host and reported as a 500 envelope while the host carries on.

wit_bindgen::generate!({ path: "wit", world: "misbehave" });

use psaflow::testing::chaos::{Behaviour, Effect};
use std::sync::atomic::{AtomicU32, Ordering};

/// Zero in a fresh instance (in .bss); every `remember` call counts itself.
static CALLS: AtomicU32 = AtomicU32::new(0);
/// 7 in a fresh instance (in .data, from the module's memory image); `remember` sets 99.
static MARK: AtomicU32 = AtomicU32::new(7);

struct Chaos;

impl Guest for Chaos {
    fn describe() -> NodeInfo {
        NodeInfo {
            output_key: "Chaos".into(),
            effect: Effect::Read,
            idempotent: true,
            natural_key: Vec::new(),
            capabilities: Vec::new(),
        }
    }

    fn run(input: MisbehaveInput) -> Envelope {
        match input.behaviour {
            Behaviour::Succeed => {}
            Behaviour::Spin => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Behaviour::Trap => trap(),
            Behaviour::Remember => return remember(),
            Behaviour::ExhaustMemory => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
        }
        Envelope {
            status_code: 200,
            original_status_code: 0,
            error_message: String::new(),
            output_name: "Chaos".into(),
            output: r#"{"behaved": true}"#.into(),
        }
    }
}

/// What an earlier invocation left in this instance's memory, and the same left for the next.
fn remember() -> Envelope {
    let calls_before = CALLS.fetch_add(1, Ordering::SeqCst);
    let mark_before = MARK.swap(99, Ordering::SeqCst);
    #[cfg(target_arch = "wasm32")]
    let pages_at_start = core::arch::wasm32::memory_size(0);
    #[cfg(not(target_arch = "wasm32"))]
    let pages_at_start = 0;
    // Four MiB more than a fresh instance has: the allocator takes it from memory.grow and,
    // trusting that grown memory is zero, hands it out as zeroed without clearing it. Stale
    // bytes here would be another invocation's data.
    let mut fresh = vec![0u8; 4 << 20];
    let fresh_memory_was_zero = fresh.iter().all(|&b| b == 0);
    fresh.fill(0xAB);
    std::hint::black_box(&fresh);
    std::mem::forget(fresh);
    Envelope {
        status_code: 200,
        original_status_code: 0,
        error_message: String::new(),
        output_name: "Chaos".into(),
        output: format!(
            r#"{{"calls_before": {calls_before}, "mark_before": {mark_before}, "pages_at_start": {pages_at_start}, "fresh_memory_was_zero": {fresh_memory_was_zero}}}"#
        ),
    }
}

/// An `unreachable` instruction on wasm; an abort elsewhere (so the crate also builds natively).
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

export!(Chaos);
