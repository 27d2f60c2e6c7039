//! References to one item or a few, in the order they were added: what a service owns (one
//! rule, one target group) and what a DNS name holds (one record) almost always number one,
//! and a vector for each would be an allocation per service or name every pass.

/// One reference inline, a vector from the second on (an empty vector before the first).
pub(crate) enum Few<'a, T: ?Sized> {
    One(&'a T),
    Many(Vec<&'a T>),
}

/// None yet (an empty vector allocates nothing).
impl<T: ?Sized> Default for Few<'_, T> {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl<'a, T: ?Sized> Few<'a, T> {
    pub(crate) fn push(&mut self, item: &'a T) {
        match self {
            Self::Many(items) if items.is_empty() => *self = Self::One(item),
            Self::One(first) => *self = Self::Many(vec![*first, item]),
            Self::Many(items) => items.push(item),
        }
    }

    pub(crate) fn as_slice(&self) -> &[&'a T] {
        match self {
            Self::One(item) => std::slice::from_ref(item),
            Self::Many(items) => items,
        }
    }
}

/// Adds `item` under `key`: inline for the first, a vector from the second on.
pub(crate) fn push_under<'a, K: Eq + std::hash::Hash, T: ?Sized>(
    map: &mut rustc_hash::FxHashMap<K, Few<'a, T>>,
    key: K,
    item: &'a T,
) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut items) => items.get_mut().push(item),
        std::collections::hash_map::Entry::Vacant(items) => {
            items.insert(Few::One(item));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_the_order_they_were_added_in() {
        let (a, b, c) = (1, 2, 3);
        let mut map = rustc_hash::FxHashMap::default();
        push_under(&mut map, "x", &a);
        assert_eq!(map["x"].as_slice(), [&1]);
        push_under(&mut map, "x", &b);
        push_under(&mut map, "y", &c);
        push_under(&mut map, "x", &c);
        assert_eq!(map["x"].as_slice(), [&1, &2, &3]);
        assert_eq!(map["y"].as_slice(), [&3]);
    }
}
