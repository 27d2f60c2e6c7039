//! Sorting vectors of large values. The positions are sorted, and each value is then moved
//! out to a slot and back in its place, twice in all: a merge sort of the values themselves
//! moves each of them about log2(N) times, and a status or a planned change is a few
//! hundred bytes.

use std::cmp::Ordering;

/// Sorts `values` stably by `compare`, moving each value twice.
pub fn sort_by<T>(values: &mut Vec<T>, mut compare: impl FnMut(&T, &T) -> Ordering) {
    if values.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| compare(&values[a], &values[b]));
    let mut slots: Vec<Option<T>> = values.drain(..).map(Some).collect();
    values.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::sort_by;

    proptest! {
        /// The order of the standard library's stable sort: equal keys stay in the order
        /// they came (the second field tells them apart).
        #[test]
        fn orders_as_a_stable_sort_does(
            values in proptest::collection::vec((0..5u8, any::<u32>()), 0..60)
        ) {
            let mut expected = values.clone();
            expected.sort_by_key(|v| v.0);
            let mut sorted = values;
            sort_by(&mut sorted, |a, b| a.0.cmp(&b.0));
            prop_assert_eq!(sorted, expected);
        }
    }
}
