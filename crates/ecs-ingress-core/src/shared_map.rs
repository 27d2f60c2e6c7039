//! A string map shared between holders instead of copied: [`crate::state::Tags`] and
//! target-group attributes ([`crate::shared_str`] does the same for single values).
//!
//! A pass reads every resource's tags (and owned target groups' attributes) from the
//! controller's cache into its snapshot, the snapshot into the intents, the intents into
//! what the runtime remembers. Copying the maps cost as much as planning did at 10,000
//! services, and held the same strings several times over. A clone here is a reference
//! count; the one holder that changes a map (a fake, a test, an adapter building one)
//! gets its own copy first (copy on write).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::flat_map::{self, FlatMap};

/// String keys to string values, in key order, shared on clone.
#[derive(Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedMap(Arc<FlatMap>);

impl Clone for SharedMap {
    fn clone(&self) -> Self {
        #[cfg(feature = "test-double")]
        if DETACHED.get() {
            return Self(Arc::new(FlatMap::clone(&self.0)));
        }
        Self(Arc::clone(&self.0))
    }
}

#[cfg(feature = "test-double")]
thread_local! {
    static DETACHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether clones are copies now (inside [`detached`]).
#[cfg(feature = "test-double")]
pub(crate) fn is_detached() -> bool {
    DETACHED.get()
}

/// Runs `f` with every clone of a map (and of a [`crate::shared_str::SharedStr`]) a copy of
/// its own. An in-memory AWS answers from
/// what it holds: without this its answers would share their maps with it, and the
/// controller's memory would look smaller than with AWS's answers, decoded afresh.
#[cfg(feature = "test-double")]
pub fn detached<T>(f: impl FnOnce() -> T) -> T {
    /// Puts the flag back however `f` ends.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            DETACHED.set(self.0);
        }
    }
    let _restore = Restore(DETACHED.replace(true));
    f()
}

impl SharedMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys, taken (copied when another holder shares the map).
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = String> + ExactSizeIterator {
        Arc::unwrap_or_clone(self.0).into_keys()
    }

    /// From borrowed pairs in any order ([`FlatMap::from_strs`]).
    pub fn from_strs(pairs: &[(&str, &str)]) -> Self {
        Self(Arc::new(FlatMap::from_strs(pairs)))
    }

    /// Whether `self` and `other` are one map, not copies.
    pub fn is_shared_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for SharedMap {
    type Target = FlatMap;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for SharedMap {
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl fmt::Debug for SharedMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl serde::Serialize for SharedMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(serializer)
    }
}

impl From<BTreeMap<String, String>> for SharedMap {
    fn from(map: BTreeMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

impl<const N: usize> From<[(String, String); N]> for SharedMap {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl FromIterator<(String, String)> for SharedMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self(Arc::new(pairs.into_iter().collect()))
    }
}

impl Extend<(String, String)> for SharedMap {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, pairs: I) {
        Arc::make_mut(&mut self.0).extend(pairs);
    }
}

impl IntoIterator for SharedMap {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        Arc::unwrap_or_clone(self.0).into_iter()
    }
}

impl<'a> IntoIterator for &'a SharedMap {
    type Item = (&'a str, &'a str);
    type IntoIter = flat_map::Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "test-double")]
    #[test]
    fn a_clone_made_while_detached_is_a_copy_of_its_own() {
        let a = SharedMap::from([("k".to_string(), "v".to_string())]);
        let copy = detached(|| a.clone());
        assert!(!copy.is_shared_with(&a));
        assert_eq!(copy, a);
        assert!(a.clone().is_shared_with(&a), "shared again outside");
    }

    #[test]
    fn a_clone_is_shared_until_one_holder_changes_it() {
        let a = SharedMap::from([("k".to_string(), "v".to_string())]);
        let mut b = a.clone();
        assert!(b.is_shared_with(&a));
        assert_eq!(a, b);
        b.insert("k2".into(), "v2".into());
        assert!(!b.is_shared_with(&a));
        assert_eq!(a.len(), 1, "the other holder's map is unchanged");
        assert_eq!(b.get("k2"), Some("v2"));
        assert_eq!(format!("{a:?}"), r#"{"k": "v"}"#);
        let pairs: Vec<(String, String)> = b.into_iter().collect();
        assert_eq!(pairs.len(), 2);
    }
}
