//! A map that can take back every change made since a mark: how a refused batch leaves the
//! governance state as it was, without copying the whole state for each batch.
//!
//! Its values are shared, copied on write: a copy of the map (a server's writer takes one of
//! its read side's state) copies the keys and a pointer per entry, and the two copies share
//! each value until one of them changes it.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

/// A `HashMap` whose changes since [`Journaled::begin`] can be undone with
/// [`Journaled::rollback`]. Each entry touched is saved once per batch, before its first change
/// (the saved value shares the entry's until the change copies it).
#[derive(Debug, Clone)]
pub struct Journaled<K, V> {
    map: HashMap<K, Arc<V>>,
    saved: Vec<(K, Option<Arc<V>>)>,
    touched: HashSet<K>,
    recording: bool,
}

impl<K, V> Default for Journaled<K, V> {
    fn default() -> Self {
        Journaled {
            map: HashMap::new(),
            saved: Vec::new(),
            touched: HashSet::new(),
            recording: false,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Journaled<K, V> {
    /// The value at `k`.
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(k).map(|v| &**v)
    }

    /// Whether `k` is present.
    pub fn contains<Q>(&self, k: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(k)
    }

    fn save(&mut self, k: &K) {
        if self.recording && !self.touched.contains(k) {
            self.touched.insert(k.clone());
            self.saved.push((k.clone(), self.map.get(k).cloned()));
        }
    }

    /// The value at `k`, to change. The key is copied only to record the change (a fold
    /// outside a batch copies nothing).
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.recording && self.map.contains_key(k) {
            self.save(&k.to_owned());
        }
        self.map.get_mut(k).map(Arc::make_mut)
    }

    /// The value at `k`, inserting `V::default()` first when absent.
    pub fn entry(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        self.save(&k);
        Arc::make_mut(self.map.entry(k).or_default())
    }

    /// Sets `k` to `v`.
    pub fn insert(&mut self, k: K, v: V) {
        self.save(&k);
        self.map.insert(k, Arc::new(v));
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter().map(|(k, v)| (k, &**v))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Starts recording changes.
    pub fn begin(&mut self) {
        self.recording = true;
        self.saved.clear();
        self.touched.clear();
    }

    /// Keeps the changes and stops recording.
    pub fn commit(&mut self) {
        self.recording = false;
        self.saved.clear();
        self.touched.clear();
    }

    /// Undoes every change since [`Journaled::begin`] and stops recording.
    pub fn rollback(&mut self) {
        while let Some((k, old)) = self.saved.pop() {
            match old {
                Some(v) => {
                    self.map.insert(k, v);
                }
                None => {
                    self.map.remove(&k);
                }
            }
        }
        self.commit();
    }
}

/// A snapshot holds the map alone: it is taken between batches, with no changes to undo.
impl<K: bincode::Encode, V: bincode::Encode> bincode::Encode for Journaled<K, V> {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        encoder: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        self.map.encode(encoder)
    }
}

impl<Context, K, V> bincode::Decode<Context> for Journaled<K, V>
where
    K: bincode::Decode<Context> + Hash + Eq,
    V: bincode::Decode<Context>,
{
    fn decode<D: bincode::de::Decoder<Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        Ok(Journaled {
            map: HashMap::decode(decoder)?,
            saved: Vec::new(),
            touched: HashSet::new(),
            recording: false,
        })
    }
}

impl<'de, Context, K, V> bincode::BorrowDecode<'de, Context> for Journaled<K, V>
where
    K: bincode::Decode<Context> + Hash + Eq,
    V: bincode::Decode<Context>,
{
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        bincode::Decode::decode(decoder)
    }
}

impl<K: PartialEq + Hash + Eq, V: PartialEq> PartialEq for Journaled<K, V> {
    /// Equal when the maps are (what a batch would undo is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_what_was_there() {
        let mut j: Journaled<String, Vec<u32>> = Journaled::default();
        j.insert("a".into(), vec![1]);
        j.begin();
        j.get_mut(&"a".to_string()).unwrap().push(2);
        j.get_mut(&"a".to_string()).unwrap().push(3);
        j.entry("b".into()).push(9);
        j.rollback();
        assert_eq!(j.get("a"), Some(&vec![1]));
        assert!(j.get("b").is_none());
        j.begin();
        j.entry("b".into()).push(1);
        j.commit();
        j.rollback();
        assert_eq!(j.get("b"), Some(&vec![1]));
    }

    #[test]
    fn a_copy_shares_each_value_until_one_side_changes_it() {
        let mut read_side: Journaled<String, Vec<u32>> = Journaled::default();
        read_side.insert("a".into(), vec![1]);
        read_side.insert("b".into(), vec![2]);
        let mut writer = read_side.clone();
        assert!(Arc::ptr_eq(&read_side.map["a"], &writer.map["a"]));
        writer.get_mut("a").unwrap().push(3);
        assert_eq!(writer.get("a"), Some(&vec![1, 3]));
        assert_eq!(read_side.get("a"), Some(&vec![1]));
        assert!(!Arc::ptr_eq(&read_side.map["a"], &writer.map["a"]));
        assert!(Arc::ptr_eq(&read_side.map["b"], &writer.map["b"]));
        // The side that was not copied from changes its own value in place, and a rollback
        // brings back the shared one.
        read_side.begin();
        read_side.entry("b".into()).push(4);
        assert_eq!(writer.get("b"), Some(&vec![2]));
        read_side.rollback();
        assert!(Arc::ptr_eq(&read_side.map["b"], &writer.map["b"]));
    }

    /// One change to one of two copies of a map.
    #[derive(Debug, Clone)]
    enum Change {
        Push { writer: bool, key: u8, value: u32 },
        Entry { writer: bool, key: u8, value: u32 },
        Insert { writer: bool, key: u8, value: u32 },
        Begin { writer: bool },
        Commit { writer: bool },
        Rollback { writer: bool },
    }

    fn change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        let key = 0u8..6;
        prop_oneof![
            (any::<bool>(), key.clone(), any::<u32>())
                .prop_map(|(writer, key, value)| Change::Push { writer, key, value }),
            (any::<bool>(), key.clone(), any::<u32>())
                .prop_map(|(writer, key, value)| Change::Entry { writer, key, value }),
            (any::<bool>(), key, any::<u32>()).prop_map(|(writer, key, value)| Change::Insert {
                writer,
                key,
                value
            }),
            any::<bool>().prop_map(|writer| Change::Begin { writer }),
            any::<bool>().prop_map(|writer| Change::Commit { writer }),
            any::<bool>().prop_map(|writer| Change::Rollback { writer }),
        ]
    }

    /// A copy and its model: a plain map, and what it held at `begin` while recording.
    struct Modelled {
        map: Journaled<String, Vec<u32>>,
        model: HashMap<String, Vec<u32>>,
        at_begin: Option<HashMap<String, Vec<u32>>>,
    }

    impl Modelled {
        fn apply(&mut self, change: &Change) {
            match change {
                Change::Push { key, value, .. } => {
                    let key = key.to_string();
                    if let Some(v) = self.map.get_mut(&key) {
                        v.push(*value);
                    }
                    if let Some(v) = self.model.get_mut(&key) {
                        v.push(*value);
                    }
                }
                Change::Entry { key, value, .. } => {
                    self.map.entry(key.to_string()).push(*value);
                    self.model.entry(key.to_string()).or_default().push(*value);
                }
                Change::Insert { key, value, .. } => {
                    self.map.insert(key.to_string(), vec![*value]);
                    self.model.insert(key.to_string(), vec![*value]);
                }
                Change::Begin { .. } => {
                    self.map.begin();
                    self.at_begin = Some(self.model.clone());
                }
                Change::Commit { .. } => {
                    self.map.commit();
                    self.at_begin = None;
                }
                Change::Rollback { .. } => {
                    self.map.rollback();
                    if let Some(before) = self.at_begin.take() {
                        self.model = before;
                    }
                }
            }
        }

        fn agrees(&self) -> bool {
            self.map.len() == self.model.len()
                && self.model.iter().all(|(k, v)| self.map.get(k) == Some(v))
        }
    }

    proptest::proptest! {
        #[test]
        fn two_copies_change_apart_as_two_plain_maps_do(
            first in proptest::collection::vec((0u8..6, proptest::prelude::any::<u32>()), 0..8),
            changes in proptest::collection::vec(change(), 0..60),
        ) {
            let mut original: Journaled<String, Vec<u32>> = Journaled::default();
            for (key, value) in &first {
                original.entry(key.to_string()).push(*value);
            }
            let model: HashMap<String, Vec<u32>> =
                original.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut read_side = Modelled {
                map: original.clone(),
                model: model.clone(),
                at_begin: None,
            };
            let mut writer = Modelled { map: original, model, at_begin: None };
            for change in &changes {
                let to_writer = match change {
                    Change::Push { writer, .. }
                    | Change::Entry { writer, .. }
                    | Change::Insert { writer, .. }
                    | Change::Begin { writer }
                    | Change::Commit { writer }
                    | Change::Rollback { writer } => *writer,
                };
                if to_writer {
                    writer.apply(change);
                } else {
                    read_side.apply(change);
                }
                proptest::prop_assert!(writer.agrees());
                proptest::prop_assert!(read_side.agrees());
            }
        }
    }
}
