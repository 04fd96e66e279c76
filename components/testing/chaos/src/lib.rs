//! The chaos node: proves that a node which loops, traps or eats memory is stopped by the
//! host and reported as a 500 envelope while the host carries on.

wit_bindgen::generate!({ path: "wit", world: "misbehave" });

use psaflow::testing::chaos::{Behaviour, Effect};

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

/// An `unreachable` instruction on wasm; an abort elsewhere (so the crate also builds natively).
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

export!(Chaos);
