//! Percentiles by nearest rank, for the numbers `psaflow bench` and the soak print.

/// The index of the `q` quantile (0.0 to 1.0, clamped) in a sorted list of `len` samples;
/// 0 for an empty list (callers check for that first).
pub fn rank(len: usize, q: f64) -> usize {
    let Some(last) = len.checked_sub(1) else {
        return 0;
    };
    let position = (last as f64 * q.clamp(0.0, 1.0)).round();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "position is a whole number in 0..=last"
    )]
    let index = position as usize;
    index.min(last)
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn nearest_rank_of_a_sorted_list() {
        assert_eq!(rank(0, 0.5), 0);
        assert_eq!(rank(1, 0.99), 0);
        assert_eq!(rank(101, 0.5), 50);
        assert_eq!(rank(101, 0.95), 95);
        assert_eq!(rank(10, 1.0), 9);
        assert_eq!(rank(10, 7.0), 9, "q above 1 is clamped");
    }
}
