//! A small string map kept as one sorted vector: what [`crate::shared_map::SharedMap`]
//! holds.
//!
//! AWS allows 50 tags per resource and ecs-ingress's own resources carry four; a target
//! group has about a dozen attributes. An ordered tree map allocates a node of room for
//! eleven entries for the first one (over 500 bytes for string pairs) and scatters its
//! pairs across nodes; a sorted vector holds its pairs side by side in one allocation
//! (exactly its pairs when collected, as the adapters build them), and a lookup is a
//! binary search over a few adjacent entries. Every service carries several
//! such maps (its tags, its target group's tags and attributes, its rule's tags), read on
//! every pass: at 10,000 services the difference is tens of MiB held, and the cache misses
//! of walking them.
//!
//! It keeps the ordered map's behaviour that callers rely on: iteration in key order, one
//! value per key, equality and ordering by the pairs in key order.

use std::borrow::Borrow;
use std::fmt;

/// String keys to string values in key order, in one sorted vector.
#[derive(Default, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlatMap {
    /// Sorted by key, each key once.
    pairs: Vec<(String, String)>,
}

impl FlatMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Where `key` is, or where it would go.
    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.pairs.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.pairs[i].1)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &mut self.pairs[i].1)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.find(key.as_str()) {
            Ok(i) => Some(std::mem::replace(&mut self.pairs[i].1, value)),
            Err(i) => {
                self.pairs.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| self.pairs.remove(i).1)
    }

    pub fn clear(&mut self) {
        self.pairs.clear();
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut String) -> bool) {
        self.pairs.retain_mut(|(k, v)| keep(k, v));
    }

    /// Whether every pair of `part` is in `self` with the same value. One walk of both in
    /// key order: a lookup per pair compares a key at every step of its search, and each
    /// key is an allocation of its own (a cache miss, on a large heap).
    pub fn contains_all(&self, part: &FlatMap) -> bool {
        let mut mine = self.pairs.iter();
        part.pairs.iter().all(|(key, value)| {
            mine.by_ref()
                .find(|(k, _)| k >= key)
                .is_some_and(|(k, v)| k == key && v == value)
        })
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.pairs.iter())
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.pairs.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.pairs.iter().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = String> + ExactSizeIterator {
        self.pairs.into_iter().map(|(k, _)| k)
    }

    /// Sorts freshly added pairs into place; of pairs with one key the last added wins, as
    /// with repeated inserts. In place: collecting a map allocates its vector only.
    fn settle(&mut self) {
        sort_last_wins(&mut self.pairs);
        self.pairs.shrink_to_fit();
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
pub struct Iter<'a>(std::slice::Iter<'a, (String, String)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a String);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a FlatMap {
    type Item = (&'a String, &'a String);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for FlatMap {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

impl FromIterator<(String, String)> for FlatMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        let mut map = Self {
            pairs: pairs.into_iter().collect(),
        };
        map.settle();
        map
    }
}

impl Extend<(String, String)> for FlatMap {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, pairs: I) {
        let before = self.pairs.len();
        self.pairs.extend(pairs);
        if self.pairs.len() > before {
            self.settle();
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
        let seen: Vec<(&String, &String)> = map.iter().collect();
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].0.as_str(), seen[0].1.as_str()), ("a", "2"));
        assert_eq!((seen[1].0.as_str(), seen[1].1.as_str()), ("b", "3"));
    }

    #[test]
    fn insert_replaces_a_value_and_keeps_key_order() {
        let mut map = FlatMap::new();
        assert_eq!(map.insert("m".into(), "1".into()), None);
        assert_eq!(map.insert("a".into(), "2".into()), None);
        assert_eq!(map.insert("z".into(), "3".into()), None);
        assert_eq!(map.insert("m".into(), "4".into()), Some("1".to_string()));
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "m", "z"]);
        assert_eq!(map.get("m").map(String::as_str), Some("4"));
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
                proptest::prop_assert!(flat.iter().eq(tree.iter()));
                proptest::prop_assert_eq!(flat.len(), tree.len());
                proptest::prop_assert_eq!(flat.get("k3"), tree.get("k3"));
                proptest::prop_assert_eq!(format!("{flat:?}"), format!("{tree:?}"));
                proptest::prop_assert_eq!(flat.cmp(&flat_before), tree.cmp(&tree_before));
                added.extend(flat.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            // Collected from pairs with keys repeated, in any order: the last value wins.
            let collected: FlatMap = added.iter().cloned().collect();
            let collected_tree: BTreeMap<String, String> = added.into_iter().collect();
            proptest::prop_assert!(collected.iter().eq(collected_tree.iter()));
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
