//! A string shared between holders instead of copied, for the values that repeat across an
//! estate's records: the listener ARN of every rule, the ALB ARNs, VPC, protocols and
//! health check of every target group, the alias target and type of every record.
//!
//! A pass reads thousands of records that carry the same few values; held as `String`s,
//! each record and each copy of it (the base of targeted passes, the next pass's read)
//! held them again: about 650 bytes per service per copy at 2,000 services. An
//! [`Interner`] at the edge hands every record the one copy it keeps, so a clone is a
//! reference count and equal values are usually one allocation (compared by pointer
//! first).

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use rustc_hash::FxHashSet;

/// An immutable string, shared on clone. Equal as, hashed as and ordered as the `str` it
/// holds; `Arc`'s equality compares the pointers first, so two holders of one copy compare
/// without reading the bytes.
#[derive(Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` and `other` are one allocation, not copies.
    pub fn is_shared_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A copy of its own, shared with nothing.
    fn copied(&self) -> Self {
        Self(Arc::from(&*self.0))
    }
}

impl Clone for SharedStr {
    fn clone(&self) -> Self {
        // An in-memory AWS's answers must not share memory with what it holds (see
        // `shared_map::detached`).
        #[cfg(feature = "test-double")]
        if crate::shared_map::is_detached() {
            return self.copied();
        }
        Self(Arc::clone(&self.0))
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, other: &SharedStr) -> bool {
        self == &*other.0
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        **self == *other.0
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == &*other.0
    }
}

impl Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

/// Another holder of the same string (a clone).
impl From<&SharedStr> for SharedStr {
    fn from(s: &SharedStr) -> Self {
        s.clone()
    }
}

impl From<&String> for SharedStr {
    fn from(s: &String) -> Self {
        Self(Arc::from(s.as_str()))
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One copy of each value it was shown, handed to every record that holds an equal one.
///
/// Kept across passes by the edge's cache, so that the next pass's records share the
/// values of the last one's instead of holding their own.
#[derive(Debug, Default)]
pub struct Interner {
    values: FxHashSet<SharedStr>,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces `value` with the interner's copy of it, keeping a copy of its own the
    /// first time: what it keeps is its own, whatever else the caller's value shares.
    /// Keeping the caller's allocation when nothing else held it measured no gain
    /// (docs/performance.md).
    pub fn share(&mut self, value: &mut SharedStr) {
        match self.values.get(value.as_str()) {
            Some(kept) => {
                if !kept.is_shared_with(value) {
                    *value = SharedStr(Arc::clone(&kept.0));
                }
            }
            None => {
                let kept = value.copied();
                *value = SharedStr(Arc::clone(&kept.0));
                self.values.insert(kept);
            }
        }
    }

    /// [`Interner::share`] for an optional value.
    pub fn share_option(&mut self, value: &mut Option<SharedStr>) {
        if let Some(v) = value {
            self.share(v);
        }
    }

    /// Forgets the values no record holds any more, so that the interner holds the
    /// estate's values, not every value it was ever shown.
    pub fn forget_unused(&mut self) {
        self.values.retain(|v| Arc::strong_count(&v.0) > 1);
    }

    /// How many values it keeps.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_shown_to_the_interner_end_up_one_allocation() {
        let mut interner = Interner::new();
        let mut a = SharedStr::from("arn:aws:elasticloadbalancing:listener/app/a/1/2");
        let mut b = SharedStr::from("arn:aws:elasticloadbalancing:listener/app/a/1/2".to_string());
        let mut other = SharedStr::from("vpc-1");
        let given = a.clone();
        interner.share(&mut a);
        interner.share(&mut b);
        interner.share(&mut other);
        assert!(a.is_shared_with(&b));
        assert!(
            !a.is_shared_with(&given),
            "the first value shown is copied, not kept"
        );
        assert_eq!(a, given);
        assert!(!other.is_shared_with(&a));
        assert_eq!(interner.len(), 2);
    }

    #[test]
    fn values_nobody_holds_are_forgotten() {
        let mut interner = Interner::new();
        let mut kept = SharedStr::from("HTTP");
        let mut dropped = SharedStr::from("HTTPS");
        interner.share(&mut kept);
        interner.share(&mut dropped);
        drop(dropped);
        interner.forget_unused();
        assert_eq!(interner.len(), 1);
        let mut again = SharedStr::from("HTTP");
        interner.share(&mut again);
        assert!(
            again.is_shared_with(&kept),
            "a value still held is still kept"
        );
    }

    #[test]
    fn share_option_leaves_none_alone() {
        let mut interner = Interner::new();
        let mut none = None;
        interner.share_option(&mut none);
        assert!(none.is_none());
        assert!(interner.is_empty());
        let mut some = Some(SharedStr::from("HTTP1"));
        interner.share_option(&mut some);
        assert_eq!(interner.len(), 1);
    }

    #[test]
    fn it_compares_hashes_and_prints_as_the_str_it_holds() {
        use std::collections::HashSet;
        let a = SharedStr::from("alb-1");
        assert_eq!(a, "alb-1");
        assert_eq!(a, *"alb-1");
        assert_eq!(a, "alb-1".to_string());
        assert_eq!("alb-1", a);
        let b = SharedStr::from("alb-2");
        assert_ne!(a, b);
        assert!(a < b);
        let set: HashSet<SharedStr> = [a.clone()].into();
        assert!(set.contains("alb-1"));
        assert_eq!(format!("{a} {a:?}"), r#"alb-1 "alb-1""#);
    }

    #[cfg(feature = "test-double")]
    #[test]
    fn a_clone_made_while_detached_is_a_copy_of_its_own() {
        let a = SharedStr::from("tg-1");
        let copy = crate::shared_map::detached(|| a.clone());
        assert!(!copy.is_shared_with(&a));
        assert_eq!(copy, a);
        assert!(a.clone().is_shared_with(&a));
    }
}
