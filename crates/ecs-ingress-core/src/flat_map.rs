//! A small string map packed into one string: what [`crate::shared_map::SharedMap`] holds.
//!
//! AWS allows 50 tags per resource and ecs-ingress's own resources carry four; a target
//! group has about a dozen attributes. Every service carries several such maps (its tags,
//! its target group's tags and attributes, its rule's tags), held between passes and read
//! on every pass. An ordered tree map allocates a node of room for eleven entries for the
//! first one and scatters its pairs across nodes; a vector of string pairs holds the pairs
//! side by side but each key and value is an allocation of its own (eight for four tags,
//! each a cache miss to compare on a large heap). Here every key and value is written end
//! to end into one string, in key order, with a second allocation saying where each ends:
//! at most two allocations whatever the number of pairs, and a lookup's binary search reads
//! the table of ends and one string.
//!
//! It keeps the ordered map's behaviour that callers rely on: iteration in key order, one
//! value per key, equality and ordering by the pairs in key order. Changing it rewrites it
//! whole, which is cheap at these sizes and rare: maps are built once from what AWS
//! returned and then only read.

use std::fmt;

/// String keys to string values in key order, packed into one string.
#[derive(Default, Clone, PartialEq, Eq, Hash)]
pub struct FlatMap {
    /// Each pair's key then value, end to end, in key order (each key once).
    text: Box<str>,
    /// Where each pair's key and value end in `text`; a key starts where the pair before
    /// it ends. Two maps with equal `text` and `ends` have the same pairs, and the reverse.
    ends: Box<[(usize, usize)]>,
}

impl FlatMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`th pair in key order (`i` < `len`).
    fn pair(&self, i: usize) -> (&str, &str) {
        let start = if i == 0 { 0 } else { self.ends[i - 1].1 };
        let (key_end, value_end) = self.ends[i];
        (&self.text[start..key_end], &self.text[key_end..value_end])
    }

    /// The `i`th key's bytes (`i` < `len`): what a search compares, without the checks
    /// that slicing a `str` at character boundaries makes.
    fn key_bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1].1 };
        &self.text.as_bytes()[start..self.ends[i].0]
    }

    /// Where `key` is, or where it would go. Strings order as their bytes do.
    fn find(&self, key: &str) -> Result<usize, usize> {
        let key = key.as_bytes();
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.key_bytes(middle).cmp(key) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Ok(middle),
            }
        }
        Err(low)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.find(key).ok().map(|i| self.pair(i).1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        let mut pairs = self.to_pairs();
        let before = match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut pairs[i].1, value)),
            Err(i) => {
                pairs.insert(i, (key, value));
                None
            }
        };
        *self = Self::pack(&pairs);
        before
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.find(key).ok()?;
        let mut pairs = self.to_pairs();
        let (_, value) = pairs.remove(i);
        *self = Self::pack(&pairs);
        Some(value)
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Keeps the pairs `keep` says to keep.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let kept: Vec<(&str, &str)> = self.iter().filter(|(k, v)| keep(k, v)).collect();
        if kept.len() != self.len() {
            *self = Self::pack(&kept);
        }
    }

    /// Whether every pair of `part` is in `self` with the same value. One walk of both in
    /// key order, not a search per pair.
    pub fn contains_all(&self, part: &FlatMap) -> bool {
        let mut mine = self.iter();
        part.iter().all(|(key, value)| {
            mine.by_ref()
                .find(|(k, _)| *k >= key)
                .is_some_and(|(k, v)| k == key && v == value)
        })
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            map: self,
            front: 0,
            back: self.len(),
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = String> + ExactSizeIterator {
        self.to_pairs().into_iter().map(|(k, _)| k)
    }

    /// The pairs, each as strings of its own (to change them).
    fn to_pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Packs pairs already in key order, each key once.
    fn pack<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Self {
        let length = pairs
            .iter()
            .map(|(k, v)| k.as_ref().len() + v.as_ref().len())
            .sum();
        let mut text = String::with_capacity(length);
        let ends = pairs
            .iter()
            .map(|(k, v)| {
                text.push_str(k.as_ref());
                let key_end = text.len();
                text.push_str(v.as_ref());
                (key_end, text.len())
            })
            .collect();
        Self {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// From borrowed pairs in any order; of pairs with one key the last given wins. Written
    /// once, with no string of its own per pair: the planner builds the tags of every
    /// group and rule it wants this way on every pass.
    pub fn from_strs(pairs: &[(&str, &str)]) -> Self {
        let mut pairs = pairs.to_vec();
        sort_last_wins(&mut pairs);
        Self::pack(&pairs)
    }

    /// Packs pairs given in any order; of pairs with one key the last given wins, as with
    /// repeated inserts.
    fn pack_unsorted(mut pairs: Vec<(String, String)>) -> Self {
        sort_last_wins(&mut pairs);
        Self::pack(&pairs)
    }
}

/// By the pairs in key order, as an ordered map of strings compares.
impl Ord for FlatMap {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for FlatMap {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Sorts `pairs` by key and keeps one pair per key: of pairs with one key, the last given,
/// as repeated inserts into a map would.
pub(crate) fn sort_last_wins<K: Ord, V>(pairs: &mut Vec<(K, V)>) {
    // Stable: equal keys keep the order they were given in.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    // `later` is removed; the kept pair takes its value first.
    pairs.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
}

/// The pairs in key order, borrowed.
#[derive(Clone)]
pub struct Iter<'a> {
    map: &'a FlatMap,
    /// The next pair from the front, and one past the next from the back.
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.front += 1;
            self.map.pair(self.front - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.back - self.front;
        (left, Some(left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            self.map.pair(self.back)
        })
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a FlatMap {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for FlatMap {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.to_pairs().into_iter()
    }
}

impl FromIterator<(String, String)> for FlatMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self::pack_unsorted(pairs.into_iter().collect())
    }
}

impl Extend<(String, String)> for FlatMap {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, pairs: I) {
        let mut all = self.to_pairs();
        let before = all.len();
        all.extend(pairs);
        if all.len() > before {
            *self = Self::pack_unsorted(all);
        }
    }
}

impl fmt::Debug for FlatMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl serde::Serialize for FlatMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn collecting_sorts_by_key_and_keeps_the_last_value_of_a_repeated_key() {
        let map: FlatMap = pairs(&[("b", "1"), ("a", "2"), ("b", "3")])
            .into_iter()
            .collect();
        let seen: Vec<(&str, &str)> = map.iter().collect();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], ("a", "2"));
        assert_eq!(seen[1], ("b", "3"));
    }

    #[test]
    fn from_strs_is_collecting_the_same_pairs() {
        let given = [("b", "1"), ("a", "2"), ("b", "3"), ("", "")];
        let collected: FlatMap = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(FlatMap::from_strs(&given), collected);
        assert_eq!(FlatMap::from_strs(&given).get("b"), Some("3"));
        assert_eq!(FlatMap::from_strs(&[]), FlatMap::new());
    }

    #[test]
    fn insert_replaces_a_value_and_keeps_key_order() {
        let mut map = FlatMap::new();
        assert_eq!(map.insert("m".into(), "1".into()), None);
        assert_eq!(map.insert("a".into(), "2".into()), None);
        assert_eq!(map.insert("z".into(), "3".into()), None);
        assert_eq!(map.insert("m".into(), "4".into()), Some("1".to_string()));
        let keys: Vec<&str> = map.keys().collect();
        assert_eq!(keys, ["a", "m", "z"]);
        assert_eq!(map.get("m"), Some("4"));
        assert_eq!(map.remove("a"), Some("2".to_string()));
        assert_eq!(map.remove("a"), None);
        assert!(!map.contains_key("a"));
        map.retain(|k, _| k != "z");
        assert_eq!(map.len(), 1);
        assert_eq!(format!("{map:?}"), r#"{"m": "4"}"#);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        Remove(u8),
        Extend(Vec<(u8, u8)>),
        Retain(u8),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // Few keys, so that they repeat often.
        prop_oneof![
            (0u8..12, any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..12).prop_map(Op::Remove),
            proptest::collection::vec((0u8..12, any::<u8>()), 0..5).prop_map(Op::Extend),
            (0u8..12).prop_map(Op::Retain),
        ]
    }

    proptest::proptest! {
        /// The same operations on an ordered tree map and on this one agree at every step:
        /// this map stands in for the tree map callers used before.
        #[test]
        fn behaves_as_an_ordered_map_under_any_sequence_of_operations(
            ops in proptest::collection::vec(op(), 0..60)
        ) {
            let mut flat = FlatMap::new();
            let mut tree: BTreeMap<String, String> = BTreeMap::new();
            let mut added: Vec<(String, String)> = Vec::new();
            for op in ops {
                let (flat_before, tree_before) = (flat.clone(), tree.clone());
                match op {
                    Op::Insert(k, v) => proptest::prop_assert_eq!(
                        flat.insert(format!("k{k}"), v.to_string()),
                        tree.insert(format!("k{k}"), v.to_string())
                    ),
                    Op::Remove(k) => proptest::prop_assert_eq!(
                        flat.remove(format!("k{k}").as_str()),
                        tree.remove(format!("k{k}").as_str())
                    ),
                    Op::Extend(list) => {
                        let extra: Vec<(String, String)> =
                            list.iter().map(|(k, v)| (format!("k{k}"), v.to_string())).collect();
                        flat.extend(extra.clone());
                        tree.extend(extra);
                    }
                    Op::Retain(k) => {
                        let drop = format!("k{k}");
                        flat.retain(|key, _| *key != drop);
                        tree.retain(|key, _| *key != drop);
                    }
                }
                proptest::prop_assert!(flat.iter().eq(tree.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
                proptest::prop_assert_eq!(flat.len(), tree.len());
                proptest::prop_assert_eq!(flat.get("k3"), tree.get("k3").map(String::as_str));
                proptest::prop_assert_eq!(format!("{flat:?}"), format!("{tree:?}"));
                proptest::prop_assert_eq!(flat.cmp(&flat_before), tree.cmp(&tree_before));
                added.extend(flat.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            }
            // Collected from pairs with keys repeated, in any order: the last value wins.
            let collected: FlatMap = added.iter().cloned().collect();
            let collected_tree: BTreeMap<String, String> = added.into_iter().collect();
            proptest::prop_assert!(collected
                .iter()
                .eq(collected_tree.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        }

        /// The one walk answers as a lookup per pair does: same keys and values, a value
        /// that differs, a key missing at the start, the middle or the end.
        #[test]
        fn contains_all_is_every_pair_looked_up(
            whole in proptest::collection::vec((0u8..8, 0u8..3), 0..8),
            part in proptest::collection::vec((0u8..8, 0u8..3), 0..5),
        ) {
            let map = |pairs: &[(u8, u8)]| -> FlatMap {
                pairs.iter().map(|(k, v)| (format!("k{k}"), format!("v{v}"))).collect()
            };
            let (whole, part) = (map(&whole), map(&part));
            let looked_up = part.iter().all(|(k, v)| whole.get(k) == Some(v));
            proptest::prop_assert_eq!(whole.contains_all(&part), looked_up);
            proptest::prop_assert!(whole.contains_all(&whole));
            proptest::prop_assert!(whole.contains_all(&FlatMap::new()));
        }
    }
}
