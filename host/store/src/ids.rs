//! Time-ordered ids: 48 bits of milliseconds then 80 random bits, written in Crockford's
//! base 32 (26 characters, the ULID layout). Sorting ids as text sorts them by creation time,
//! so `runs list` and the audit read in order without a second column, and ids made within
//! the same millisecond by this process still increase.
use std::sync::Mutex;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static LAST: Mutex<u128> = Mutex::new(0);

/// A new id, greater than every id this process made before.
pub fn new_id() -> String {
    let millis = u128::try_from(crate::now_ms()).unwrap_or(0) & ((1 << 48) - 1);
    let mut random = [0u8; 10];
    // The OS random source failing is not something a caller can handle; the time part
    // still orders ids and the monotonic step below keeps them unique in this process.
    let _ = getrandom::fill(&mut random);
    let mut bits = millis << 80;
    for (i, b) in random.iter().enumerate() {
        bits |= u128::from(*b) << (8 * (9 - i));
    }
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if bits <= *last {
        bits = *last + 1;
    }
    *last = bits;
    encode(bits)
}

fn encode(mut bits: u128) -> String {
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_characters_and_increase() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(ids.iter().all(|id| id.len() == 26));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids must increase");
    }

    #[test]
    fn the_time_comes_first() {
        let early = encode(1u128 << 80);
        let late = encode(2u128 << 80);
        assert!(early < late);
        assert_eq!(encode(0), "00000000000000000000000000");
    }
}
