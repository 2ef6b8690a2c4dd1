//! A map that can take back every change made since a mark: how a refused batch leaves the
//! governance state as it was, without copying the whole state for each batch.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// A `HashMap` whose changes since [`Journaled::begin`] can be undone with
/// [`Journaled::rollback`]. Each entry touched is saved once per batch, before its first change.
#[derive(Debug, Clone)]
pub struct Journaled<K, V> {
    map: HashMap<K, V>,
    saved: Vec<(K, Option<V>)>,
    touched: HashSet<K>,
    recording: bool,
}

impl<K: Hash + Eq + Clone, V: Clone> Default for Journaled<K, V> {
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
        self.map.get(k)
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
        self.map.get_mut(k)
    }

    /// The value at `k`, inserting `V::default()` first when absent.
    pub fn entry(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        self.save(&k);
        self.map.entry(k).or_default()
    }

    /// Sets `k` to `v`.
    pub fn insert(&mut self, k: K, v: V) {
        self.save(&k);
        self.map.insert(k, v);
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
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
}
